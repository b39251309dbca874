// The largest magnitude of LANES binary32 values as the activation quantizer's max pass keeps
// it: |x| over the lanes whose valid bit is set, NaN skipped, +0 when none is left. Non-negative
// binary32 values order as their bit patterns, so the maximum is exact and independent of the
// lanes' order: fed to act_quantizer's max pass, it lets the quantizer take a vector LANES
// elements per cycle (etch_core's element lanes) with the same amax. Combinational: latency 0.
module fp32_abs_max #(
    parameter int LANES = 4
) (
    input  logic [LANES*32-1:0] x,
    input  logic [   LANES-1:0] valid,
    output logic [        31:0] result
);
  always_comb begin
    result = 32'd0;
    for (int l = 0; l < LANES; l = l + 1)
      if (valid[l] && !(x[l*32+23+:8] == 8'hFF && x[l*32+:23] != 23'd0) &&
          x[l*32+:31] > result[30:0])
        result = {1'b0, x[l*32+:31]};
  end
endmodule
