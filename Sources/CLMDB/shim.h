// LMDB's C API, from Debian's liblmdb-dev (installed by scripts/bootstrap.sh).
#include <lmdb.h>
