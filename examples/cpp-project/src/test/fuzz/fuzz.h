// What every harness includes: the libFuzzer entry point as one macro, and helpers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "addr.h"
#include "consensus.h"
#include "net.h"

#define FUZZ_TARGET extern "C" int LLVMFuzzerTestOneInput

inline uint32_t read_le32(const uint8_t *p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
