// CRC-32C with the x86-64 SSE 4.2 `crc32` instruction, chosen at run time by DiskCache's CRC32C
// (which falls back to its table-driven Swift code where this is unavailable).
#include "ccrc32c.h"

#include <string.h>

#if defined(__x86_64__)

int ccrc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2")))
uint32_t ccrc32c_hardware_update(uint32_t crc, const void *bytes, size_t length) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t c = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);  // unaligned load
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        p += 1;
        length -= 1;
    }
    return c32;
}

#else

int ccrc32c_hardware_available(void) { return 0; }

uint32_t ccrc32c_hardware_update(uint32_t crc, const void *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return crc;
}

#endif
