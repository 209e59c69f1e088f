// The vectorised row-block kernel of the CPU HDL: plain C++, no torch headers.
//
// hdl_cpu_block_avx2.cpp is compiled for AVX2+FMA+F16C through a target pragma while the
// rest of the extension stays at the baseline x86-64 ISA, so one cached binary runs on any
// x86-64 machine; hdl_cpu.cpp calls the block kernel only when hdl_block_avx2_supported()
// says the CPU has those instructions. Keeping torch (and every other header with inline
// functions) out of that file keeps AVX2 code from leaking into shared inline functions.
#pragma once

#include <cstdint>

constexpr int kBlockRows = 8;  // rows interleaved per pass over the ancestor table

// The block kernel's range: every |z/T| and |y/T| of the block at most kBlockLogitRange.
// There q / (1 - q) <= e^40 and sigma(-z/T) >= e^-40 are normal floats and log(1 - q)
// follows from ls exactly; a block with a logit beyond it is handed back to the exact
// scalar kernel (hdl_cpu.cpp, maths in hdl_math.h).
constexpr float kBlockLogitRange = 40.0f;

enum HdlDtype : int { kHdlFloat32 = 0, kHdlFloat16 = 1, kHdlBFloat16 = 2 };

// One block of up to kBlockRows consecutive rows. Row r of a [B, N] tensor argument starts at
// pointer + r * n.
struct HdlBlockArgs {
  const void* student;      // [rows, N] logits, dtype `dtype`
  const void* teacher;      // [rows, N] logits, dtype `dtype`
  void* grad;               // [rows, N] gradient out, dtype `dtype`; nullptr: no gradient
  float* loss_elements;     // [rows, N] float32 loss out (reduction none); nullptr otherwise
  const float* grad_output; // [rows, N] float32 incoming gradient (reduction none), or nullptr
  int dtype;                // HdlDtype
  int rows;                 // 1..kBlockRows valid rows in this block
  int64_t n;                // concepts N
  // The table as chains (hacd_graph/distill/chain_plan.py, ChainPlan; positions order the
  // concepts with every base first): ls[c] = s[c] + ls[base] + the residual terms.
  const int32_t* order;           // [N] the concept at each position
  const int32_t* base;            // [N] by position: the base's position, or -1
  const int32_t* residual;        // [R, N] by position: the residual terms' slots
  const int32_t* residual_count;  // [N] by position: valid entries of residual's column
  const int32_t* slot;            // [N] by concept: slot of a residual term's concept, or -1
  int64_t num_slots;              // S
  const float* weights;     // [N] or nullptr (all ones)
  float inv_temperature;    // 1 / T
  float loss_scale;         // T^2
  float grad_scale;         // multiplies d loss / d ls: 1 (sum, none) or 1/B (batchmean)
  float* work;              // scratch of hdl_block_work_floats(n) floats, 32-byte aligned
};

// Floats of scratch one call needs: 32 per concept (rounded up to 8 concepts), plus 8 for
// the loss elements of reduction none and 8 for grad_output, plus 24 per slot.
int64_t hdl_block_work_floats(int64_t n, int64_t num_slots, bool loss_elements,
                              bool grad_output);

// True when this CPU runs the AVX2 block kernel.
bool hdl_block_avx2_supported();

// Computes the block; returns the sum of the loss over the block's rows and concepts
// (0 when loss_elements is set or when only the gradient is wanted). Sets *in_range to
// false, and computes nothing, when some logit of the block is beyond kBlockLogitRange.
double hdl_block_avx2(const HdlBlockArgs& args, bool* in_range);
