// IEEE binary32 comparison a > b: false when either is NaN, and +0 and -0 compare equal.
// Combinational: latency 0.
module fp32_greater (
    input  logic [31:0] a,
    input  logic [31:0] b,
    output logic        greater
);
  logic nan_a, nan_b, both_zero;
  assign nan_a = a[30:23] == 8'hFF && a[22:0] != 23'd0;
  assign nan_b = b[30:23] == 8'hFF && b[22:0] != 23'd0;
  assign both_zero = a[30:0] == 31'd0 && b[30:0] == 31'd0;
  always_comb begin
    if (nan_a || nan_b || both_zero) greater = 1'b0;
    else if (a[31] != b[31]) greater = !a[31];
    else if (!a[31]) greater = a[30:0] > b[30:0];
    else greater = a[30:0] < b[30:0];
  end
endmodule
