#include "consensus.h"

#include <cstring>

namespace consensus {

Hash hash(const uint8_t *data, size_t size) {
    Hash h{};
    uint64_t state = 0xcbf29ce484222325ull ^ size;
    for (size_t i = 0; i < size; i++) {
        state = (state ^ data[i]) * 0x100000001b3ull;
        h[i % 32] ^= uint8_t(state >> 32);
    }
    for (size_t i = 0; i < 32; i++) {
        state = (state ^ h[i]) * 0x100000001b3ull;
        h[i] = uint8_t(state >> 24);
    }
    return h;
}

Hash merkle_root(std::vector<Hash> leaves) {
    if (leaves.empty()) return Hash{};
    while (leaves.size() > 1) {
        if (leaves.size() % 2) leaves.push_back(leaves.back());
        std::vector<Hash> next;
        for (size_t i = 0; i < leaves.size(); i += 2) {
            uint8_t both[64];
            std::memcpy(both, leaves[i].data(), 32);
            std::memcpy(both + 32, leaves[i + 1].data(), 32);
            next.push_back(hash(both, 64));
        }
        leaves = next;
    }
    return leaves[0];
}

bool read_compact_size(const uint8_t *data, size_t size, size_t *pos, uint64_t *out) {
    if (*pos >= size) return false;
    uint8_t first = data[(*pos)++];
    size_t extra = first < 253 ? 0 : first == 253 ? 2 : first == 254 ? 4 : 8;
    if (size - *pos < extra) return false;
    uint64_t n = first < 253 ? first : 0;
    for (size_t i = 0; i < extra; i++) n |= uint64_t(data[(*pos)++]) << (8 * i);
    // Canonical encodings only: the shortest form.
    if (compact_size_len(n) != extra + 1) return false;
    *out = n;
    return true;
}

size_t compact_size_len(uint64_t n) {
    return n < 253 ? 1 : n <= 0xffff ? 3 : n <= 0xffffffffull ? 5 : 9;
}

bool compact_to_target(uint32_t bits, uint64_t *target) {
    uint32_t exponent = bits >> 24, mantissa = bits & 0x007fffff;
    if (bits & 0x00800000) return false;
    if (exponent <= 3) {
        *target = mantissa >> (8 * (3 - exponent));
        return true;
    }
    if (exponent > 10 || (mantissa >> (64 - 8 * (exponent - 3))) != 0) return false;
    *target = uint64_t(mantissa) << (8 * (exponent - 3));
    return true;
}

uint32_t target_to_compact(uint64_t target) {
    uint32_t size = 0;
    for (uint64_t t = target; t; t >>= 8) size++;
    uint64_t mantissa = size <= 3 ? target << (8 * (3 - size)) : target >> (8 * (size - 3));
    if (mantissa & 0x00800000) {
        mantissa >>= 8;
        size++;
    }
    return size << 24 | uint32_t(mantissa);
}

uint64_t subsidy(uint32_t height) {
    uint32_t halvings = height / 210000;
    return halvings >= 64 ? 0 : (50 * COIN) >> halvings;
}

bool parse_tx(const uint8_t *data, size_t size, Tx *tx, size_t *used) {
    size_t pos = 0;
    if (size < 4) return false;
    std::memcpy(&tx->version, data, 4);
    pos = 4;
    uint64_t n = 0;
    if (!read_compact_size(data, size, &pos, &n) || n > (size - pos) / 32) return false;
    for (uint64_t i = 0; i < n; i++, pos += 32) {
        Hash h;
        std::memcpy(h.data(), data + pos, 32);
        tx->inputs.push_back(h);
    }
    if (!read_compact_size(data, size, &pos, &n) || n > (size - pos) / 8) return false;
    for (uint64_t i = 0; i < n; i++, pos += 8) {
        TxOut out;
        std::memcpy(&out.value, data + pos, 8);
        tx->outputs.push_back(out);
    }
    if (used) *used = pos;
    return true;
}

bool check_tx(const Tx &tx) {
    if (tx.inputs.empty() || tx.outputs.empty()) return false;
    uint64_t total = 0;
    for (const TxOut &out : tx.outputs) {
        if (out.value > MAX_MONEY) return false;
        total += out.value;
        if (total > MAX_MONEY) return false;
    }
    return true;
}

uint64_t tx_value(const Tx &tx) {
    uint64_t total = 0;
    for (const TxOut &out : tx.outputs) total += out.value;
    return total;
}

bool parse_block(const uint8_t *data, size_t size, Block *block) {
    if (size < 36) return false;
    std::memcpy(&block->version, data, 4);
    std::memcpy(block->prev.data(), data + 4, 32);
    size_t pos = 36;
    uint64_t n = 0;
    if (!read_compact_size(data, size, &pos, &n)) return false;
    for (uint64_t i = 0; i < n && pos < size; i++) {
        Tx tx;
        size_t used = 0;
        if (!parse_tx(data + pos, size - pos, &tx, &used)) return false;
        block->txs.push_back(tx);
        pos += used;
    }
    return block->txs.size() == n;
}

bool check_signature_encoding(const uint8_t *data, size_t size) {
    // 0x30 <len> 0x02 <rlen> <r> 0x02 <slen> <s>
    if (size < 8 || size > 72 || data[0] != 0x30 || data[1] != size - 2) return false;
    size_t rlen = data[3];
    if (data[2] != 0x02 || rlen == 0 || 5 + rlen >= size) return false;
    size_t slen = data[5 + rlen];
    if (data[4 + rlen] != 0x02 || slen == 0 || rlen + slen + 6 != size) return false;
    return true;
}

}  // namespace consensus
