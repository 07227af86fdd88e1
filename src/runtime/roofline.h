#pragma once
// The memory-bandwidth roofline of decode: what this machine can stream, and what one decode step
// must stream. tokens/s at the limit = bandwidth / bytes per token.
#include <cstdint>

namespace jitgen::runtime {

struct Bandwidth {
  double triad_gbps = 0;  // STREAM triad a = b + s*c, counted as 3 x 4 bytes per element (STREAM's rule)
  // The read ceiling that batch-1 decode is held against: the best pure read (sum) of a buffer of
  // read_buffer_bytes on transparent huge pages (core/memory.h zeroed_buffer), each pool thread reading its slice as
  // 1, 2, 4 or 8 concurrent forward streams with the widest loads the CPU has (AVX-512, else AVX2), best over the
  // stream counts and `repeats`. Why all of that: a GEMV over prepared panels reads one long forward stream on huge
  // pages; on a Zen 3 VM a single AVX2 stream over 4 KiB pages (the older probe, read_heap_gbps) reads 16-19 GB/s,
  // well below what the panels reach (page walks per 4 KiB page), so it was no ceiling.
  double read_gbps = 0;
  // The same reads timed in process CPU seconds per pool thread: on a loaded machine it leaves out the time the
  // threads waited for a core (wall-clock probes then come out low), to set beside CPU-time decode rates.
  double read_cpu_gbps = 0;
  int read_streams = 0;  // the stream count of the best wall-clock read_gbps
  double read_gbps_by_streams[4] = {};  // best wall-clock read per thread count of streams 1, 2, 4, 8
  // The older probe, kept for comparison with earlier tables: one AVX2 stream per thread over a 128 MiB heap array
  // (4 KiB pages where the allocator does not get huge pages).
  double read_heap_gbps = 0;
  // Bytes of the read buffer (the triad and heap arrays are half as large each). By default 4x the last-level
  // cache, at least 256 MiB: each stream count's pass follows the previous one over the same buffer, so a buffer the
  // LLC could hold would be read partly from it. Measured on an Intel Xeon VM with a 480 MiB L3: a 256 MiB buffer
  // read 22-24 GB/s from one core at 4-8 streams, 2 GiB 17.5-18.4 (its 1-stream pass, first after the triad, 16-19).
  int64_t read_buffer_bytes = 0;
};

// Runs the probes on the thread pool (all its threads) over arrays far larger than the LLC; best of
// `repeats`. About 1 s per GiB of read_bytes at 5 repeats. The machine's bandwidth drifts: measure next to the runs
// you compare. read_bytes: the read buffer's size, rounded down to whole 2 MiB (at least one); 0 picks
// default_probe_bytes(). A smaller buffer than that only serves a quick run (it may read from the LLC).
Bandwidth measure_bandwidth(int repeats = 5, int64_t read_bytes = 0);
// The last-level cache's size in bytes as glibc reports it (L3, else L2); 0 where unknown.
int64_t last_level_cache_bytes();
// 4 x last_level_cache_bytes(), at least 256 MiB and at most an eighth of the physical memory (or 256 MiB).
int64_t default_probe_bytes();
// The triad figure alone (what `jitgen bench --roofline` prints as "bandwidth").
double measure_bandwidth_gbps();

// Bytes one decode step reads for a GPT-2-shaped model: every linear weight once (+ biases), the
// lm_head [V, C] once, and the K and V cache of every row up to `context` positions. Activations are
// cache resident and not counted. weight_bytes = 4 for fp32 storage, 2 for bf16.
// kv_width = n_kv_head * head_dim (the K and V projections' width and the cache's floats per position);
// 0 means n_embd (plain multi-head attention, GPT-2). The MLP is counted as two matrices (GPT-2's).
struct DecodeShape {
  int64_t n_layer, n_embd, inner, vocab;
  int64_t kv_width = 0;
};
double bytes_per_decode_step(const DecodeShape& s, int weight_bytes, int64_t batch, int64_t context);
// Bytes of the KV cache one decode step's attention reads in one layer: K and V, fp32, `batch` rows of
// `context` positions of kv_width floats each (models/spec.h: [B, n_kv_head, S, head_dim] per layer).
double kv_cache_read_bytes(int64_t kv_width, int64_t batch, int64_t context);
// bytes_per_decode_step / batch: the bytes each generated token costs.
double bytes_per_token(const DecodeShape& s, int weight_bytes, int64_t batch, int64_t context);

}  // namespace jitgen::runtime
