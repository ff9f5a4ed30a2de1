#include "addr.h"

#include <algorithm>

#include "net.h"

namespace addr {

static const char ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

std::string base58_encode(const std::vector<uint8_t> &bytes) {
    std::vector<uint8_t> digits;
    for (uint8_t byte : bytes) {
        int carry = byte;
        for (uint8_t &d : digits) {
            carry += d * 256;
            d = carry % 58;
            carry /= 58;
        }
        for (; carry; carry /= 58) digits.push_back(carry % 58);
    }
    std::string out;
    for (size_t i = 0; i < bytes.size() && bytes[i] == 0; i++) out += '1';
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) out += ALPHABET[*it];
    return out;
}

bool base58_decode(const std::string &text, std::vector<uint8_t> *bytes) {
    if (text.size() > 128) return false;
    std::vector<uint8_t> out;
    for (char c : text) {
        const char *p = std::find(ALPHABET, ALPHABET + 58, c);
        if (p == ALPHABET + 58) return false;
        int carry = int(p - ALPHABET);
        for (uint8_t &b : out) {
            carry += b * 58;
            b = carry & 0xff;
            carry >>= 8;
        }
        for (; carry; carry >>= 8) out.push_back(carry & 0xff);
    }
    size_t zeros = 0;
    while (zeros < text.size() && text[zeros] == '1') zeros++;
    bytes->assign(zeros, 0);
    bytes->insert(bytes->end(), out.rbegin(), out.rend());
    return true;
}

std::string encode(const Address &a) {
    std::vector<uint8_t> raw{uint8_t(a.type)};
    raw.insert(raw.end(), a.payload.begin(), a.payload.end());
    uint32_t sum = net::checksum(raw.data(), raw.size());
    for (int i = 0; i < 4; i++) raw.push_back(uint8_t(sum >> (8 * i)));
    return base58_encode(raw);
}

bool parse(const std::string &text, Address *a) {
    std::vector<uint8_t> raw;
    if (!base58_decode(text, &raw) || raw.size() != 25) return false;
    uint32_t sum = net::checksum(raw.data(), 21);
    for (int i = 0; i < 4; i++)
        if (raw[21 + i] != uint8_t(sum >> (8 * i))) return false;
    if (raw[0] != uint8_t(Type::P2PKH) && raw[0] != uint8_t(Type::P2SH)) return false;
    a->type = Type(raw[0]);
    a->payload.assign(raw.begin() + 1, raw.begin() + 21);
    return true;
}

bool is_valid(const std::string &text) {
    Address a;
    return parse(text, &a);
}

uint32_t bech32_checksum(const std::string &text) {
    static const uint32_t GEN[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t chk = 1;
    for (unsigned char c : text) {
        uint8_t top = chk >> 25;
        chk = (chk & 0x1ffffff) << 5 ^ (c & 31);
        for (int i = 0; i < 5; i++)
            if ((top >> i) & 1) chk ^= GEN[i];
    }
    return chk;
}

}  // namespace addr
