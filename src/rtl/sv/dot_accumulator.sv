// The contract's exact integer dot product of int16 codes in 64 bits (attention scores, the
// attention output sum, LoRA, RMSNorm's sum of squares): LANES pairs per cycle while valid,
// summed into a 64-bit accumulator; clear (synchronous) zeroes it. Latency: 1 cycle (acc holds
// the sum of every pair presented before the last clock edge).
module dot_accumulator #(
    parameter int LANES = 8
) (
    input  logic                      clk,
    input  logic                      clear,
    input  logic                      valid,
    input  logic        [LANES*16-1:0] a,
    input  logic        [LANES*16-1:0] b,
    output logic signed [       63:0] acc
);
  logic signed [63:0] lane_sum;
  integer i;
  always_comb begin
    lane_sum = 64'sd0;
    for (i = 0; i < LANES; i = i + 1)
      lane_sum = lane_sum + $signed(a[i*16+:16]) * $signed(b[i*16+:16]);
  end
  always_ff @(posedge clk) begin
    if (clear) acc <= 64'sd0;
    else if (valid) acc <= acc + lane_sum;
  end
endmodule
