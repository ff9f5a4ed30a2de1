// Signature encoding checks (a DER-like length-prefixed format).
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    consensus::check_signature_encoding(data, size);
    return 0;
}
