#ifndef CCRC32C_H
#define CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has the CRC-32C instruction (x86-64 SSE 4.2); 0 elsewhere.
int ccrc32c_hardware_available(void);

/// Continues a CRC-32C over `length` bytes with the CPU's instruction. `crc` is the running
/// (pre-inverted) value. Call only when `ccrc32c_hardware_available()` returned 1.
uint32_t ccrc32c_hardware_update(uint32_t crc, const void *bytes, size_t length);

#endif
