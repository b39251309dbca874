// Splits an IEEE binary32 into its class and, for finite non-zero values, a normalized
// significand with the leading one at bit 23: value = significand * 2^(exponent - 150).
// Subnormals are normalized here (exponent <= 0), so every arithmetic unit treats them like
// normal numbers and only fp32_round_pack has to know about the subnormal range.
// Combinational.
module fp32_unpack (
    input  logic               [31:0] value,
    output logic                      sign,
    output logic signed        [11:0] exponent,
    output logic               [23:0] significand,  // 0 for zeros
    output logic                      is_zero,
    output logic                      is_inf,
    output logic                      is_nan
);
  logic [7:0] field;
  logic [22:0] fraction;
  logic [4:0] fraction_zeros;
  assign sign = value[31];
  assign field = value[30:23];
  assign fraction = value[22:0];
  assign is_zero = field == 8'd0 && fraction == 23'd0;
  assign is_inf = field == 8'hFF && fraction == 23'd0;
  assign is_nan = field == 8'hFF && fraction != 23'd0;

  lzc #(.W(23)) fraction_lzc (
      .value(fraction),
      .count(fraction_zeros)
  );

  always_comb begin
    if (field != 8'd0) begin
      significand = {1'b1, fraction};
      exponent = {4'd0, field};
    end else begin
      // A subnormal f * 2^-149 with its leading one moved up to bit 23.
      significand = {1'b0, fraction} << (fraction_zeros + 5'd1);
      exponent = -{7'd0, fraction_zeros};
    end
  end
endmodule
