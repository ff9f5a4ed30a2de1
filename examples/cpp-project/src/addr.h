// Addresses: a type byte and a 20-byte payload in Base58Check, and a bech32-style checksum.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace addr {

enum class Type : uint8_t { P2PKH = 0x1e, P2SH = 0x32 };

struct Address {
    Type type = Type::P2PKH;
    std::vector<uint8_t> payload;
};

std::string base58_encode(const std::vector<uint8_t> &bytes);
bool base58_decode(const std::string &text, std::vector<uint8_t> *bytes);
std::string encode(const Address &a);
bool parse(const std::string &text, Address *a);
bool is_valid(const std::string &text);
uint32_t bech32_checksum(const std::string &text);

}  // namespace addr
