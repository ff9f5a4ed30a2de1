#include "net.h"

#include <cstring>

#include "consensus.h"

namespace net {

bool valid_command(const std::string &command) {
    if (command.empty() || command.size() > 12) return false;
    for (char c : command)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

uint32_t checksum(const uint8_t *data, size_t size) {
    consensus::Hash h = consensus::hash(data, size);
    return uint32_t(h[0]) | uint32_t(h[1]) << 8 | uint32_t(h[2]) << 16 | uint32_t(h[3]) << 24;
}

static void put32(std::vector<uint8_t> &out, uint32_t v) {
    for (int i = 0; i < 4; i++) out.push_back(uint8_t(v >> (8 * i)));
}

std::vector<uint8_t> create_message(const std::string &command, const uint8_t *payload, size_t size) {
    std::vector<uint8_t> out;
    put32(out, MAGIC);
    for (size_t i = 0; i < 12; i++) out.push_back(i < command.size() ? uint8_t(command[i]) : 0);
    put32(out, uint32_t(size));
    put32(out, checksum(payload, size));
    out.insert(out.end(), payload, payload + size);
    return out;
}

bool parse_message(const uint8_t *data, size_t size, Message *m) {
    if (size < 24) return false;
    uint32_t magic, len, sum;
    std::memcpy(&magic, data, 4);
    std::memcpy(&len, data + 16, 4);
    std::memcpy(&sum, data + 20, 4);
    if (magic != MAGIC || len != size - 24 || checksum(data + 24, len) != sum) return false;
    size_t n = 0;
    while (n < 12 && data[4 + n]) n++;
    m->command.assign(reinterpret_cast<const char *>(data + 4), n);
    m->payload.assign(data + 24, data + size);
    return valid_command(m->command);
}

}  // namespace net
