#ifndef CDUCKDB_SHIM_H
#define CDUCKDB_SHIM_H
#include <duckdb.h>
#endif
