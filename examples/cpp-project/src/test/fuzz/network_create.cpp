// Creating a message and parsing it back gives the same command and payload.
#include "test/fuzz/fuzz.h"

FUZZ_TARGET(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    std::string cmd(reinterpret_cast<const char *>(data), std::min<size_t>(size, 12));
    if (!net::valid_command(cmd)) return 0;
    std::vector<uint8_t> wire = net::create_message(cmd, data, size);
    net::Message m;
    if (!net::parse_message(wire.data(), wire.size(), &m) || m.command != cmd) std::abort();
    return 0;
}
