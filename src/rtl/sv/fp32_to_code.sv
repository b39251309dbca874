// IEEE binary32 to an activation code: clamp(round_to_nearest_even(v), -32767, 32767), NaN
// to 0 (contract: the quantizer's code conversion; infinities clamp). Combinational: latency 0.
module fp32_to_code (
    input  logic        [31:0] value,
    output logic signed [15:0] code
);
  localparam logic [15:0] Max = 16'd32767;
  logic [7:0] field;
  logic [38:0] fixed;  // |value| with 24 fraction bits, for |value| in [0.5, 2^15)
  logic [15:0] whole, rounded, magnitude;
  logic round_up;
  assign field = value[30:23];
  assign fixed = {15'd0, 1'b1, value[22:0]} << (field - 8'd126);
  assign whole = {1'b0, fixed[38:24]};
  assign round_up = fixed[23] & (whole[0] | (|fixed[22:0]));
  assign rounded = whole + {15'd0, round_up};
  always_comb begin
    if (field == 8'hFF && value[22:0] != 23'd0) magnitude = 16'd0;  // NaN
    else if (field >= 8'd142) magnitude = Max;  // |value| >= 2^15, infinities included
    else if (field < 8'd126) magnitude = 16'd0;  // |value| < 0.5, subnormals included
    else magnitude = rounded > Max ? Max : rounded;
    code = value[31] ? -magnitude : magnitude;
  end
endmodule
