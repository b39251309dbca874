// Leading-zero count of a W-bit vector (W when the vector is zero). Combinational.
module lzc #(
    parameter int W = 32
) (
    input  logic [        W-1:0] value,
    output logic [$clog2(W+1)-1:0] count
);
  integer i;
  always_comb begin
    count = W[$clog2(W+1)-1:0];
    // Scanning upwards, the last one seen is the highest set bit.
    for (i = 0; i < W; i = i + 1) if (value[i]) count = $clog2(W + 1)'(W - 1 - i);
  end
endmodule
