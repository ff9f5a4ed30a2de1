// Consensus primitives, small versions of the real project's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace consensus {

constexpr uint64_t COIN = 100000000;
constexpr uint64_t MAX_MONEY = 21000000 * COIN;

using Hash = std::array<uint8_t, 32>;

// A toy sponge hash (not SHA-3; the harness only needs determinism).
Hash hash(const uint8_t *data, size_t size);
Hash merkle_root(std::vector<Hash> leaves);

bool read_compact_size(const uint8_t *data, size_t size, size_t *pos, uint64_t *out);
size_t compact_size_len(uint64_t n);

bool compact_to_target(uint32_t bits, uint64_t *target);
uint32_t target_to_compact(uint64_t target);

uint64_t subsidy(uint32_t height);

struct TxOut {
    uint64_t value;
};
struct Tx {
    uint32_t version = 0;
    std::vector<Hash> inputs;
    std::vector<TxOut> outputs;
};
bool parse_tx(const uint8_t *data, size_t size, Tx *tx, size_t *used = nullptr);
bool check_tx(const Tx &tx);
uint64_t tx_value(const Tx &tx);

struct Block {
    uint32_t version = 0;
    Hash prev{};
    std::vector<Tx> txs;
};
bool parse_block(const uint8_t *data, size_t size, Block *block);

bool check_signature_encoding(const uint8_t *data, size_t size);

class UtxoSet {
  public:
    void add(const std::string &key, uint64_t value) { coins_[key] = value; }
    bool spend(const std::string &key) { return coins_.erase(key) == 1; }
    bool empty() const { return coins_.empty(); }

  private:
    std::map<std::string, uint64_t> coins_;
};

}  // namespace consensus
