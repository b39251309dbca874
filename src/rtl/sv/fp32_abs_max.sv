// The largest magnitude of LANES binary32 values: max |x_l| over the non-NaN lanes, +0 when
// there is none. Non-negative binary32 values order as their bit patterns, so the maximum is
// exact and independent of the lanes' order (act_quantizer's max pass over LANES elements per
// cycle). Combinational: latency 0.
module fp32_abs_max #(
    parameter int LANES = 2
) (
    input  logic [LANES*32-1:0] x,
    output logic [        31:0] result
);
  always_comb begin
    result = 32'd0;
    for (int l = 0; l < LANES; l = l + 1)
      if (!(x[l*32+23+:8] == 8'hFF && x[l*32+:23] != 23'd0) && x[l*32+:31] > result[30:0])
        result = {1'b0, x[l*32+:31]};
  end
endmodule
