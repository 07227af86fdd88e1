#pragma once
// PlanStore: compiled plans on disk (`--plan-cache DIR`), so a new process skips tracing, the passes and
// memory planning. One JSON file per (model fingerprint, compile key), written atomically (temp +
// rename). A file from another format version, another model, or one that is corrupt or inconsistent
// is ignored with a one-line warning on stderr and rebuilt — never trusted: every node, shape, weight
// and offset is checked before kernels are bound to it.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "graph/compile_cache.h"
#include "graph/executable.h"

namespace jitgen {

class PlanStore {
 public:
  // 2: per-row cache_pos; 3: select_tokens, reorder_rows (+ optional Llama-family op fields). Nodes are written and
  // read through the op table (graph/op_table.h: op names, attr_defs, shape rules): renaming an op or an attribute
  // key, changing an attribute's meaning or a rule so that an older file would compute something else, bumps this.
  static constexpr int kVersion = 3;

  // `weights`: every model weight by the name the model definition gives it.
  PlanStore(std::string dir, std::string model_fingerprint, std::map<std::string, Tensor> weights);

  // The stored plan for `key`, or null when absent / stale / corrupt (then a warning was printed).
  // `inputs`: the declared step inputs (name -> shape, dtype) the plan must read.
  std::shared_ptr<const Executable> load(const CompileKey& key,
                                         const std::map<std::string, std::pair<Shape, DType>>& inputs) const;
  void save(const CompileKey& key, const Executable& exe) const;
  std::string path_for(const CompileKey& key) const;

 private:
  std::string dir_, fingerprint_;
  std::map<std::string, Tensor> weights_;
};

}  // namespace jitgen
