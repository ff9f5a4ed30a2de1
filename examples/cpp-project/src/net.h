// The peer-to-peer message envelope: magic, command, length, checksum, payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace net {

constexpr uint32_t MAGIC = 0xd9b4bef9;

struct Message {
    std::string command;
    std::vector<uint8_t> payload;
};

bool valid_command(const std::string &command);
uint32_t checksum(const uint8_t *data, size_t size);
std::vector<uint8_t> create_message(const std::string &command, const uint8_t *payload, size_t size);
bool parse_message(const uint8_t *data, size_t size, Message *m);

}  // namespace net
