// Icarus Verilog run of the binary32 blocks and the exp unit against vectors written by
// etch_rtl_iverilog_vectors from the host's binary32 arithmetic and the contract, so the
// library's meaning does not rest on one simulator's reading of the language. Reads
// +vectors=FILE and +count=N; prints PASS or the first mismatch and exits non-zero on one.
module iverilog_tb;
  logic [255:0] vectors[0:99999];
  logic [31:0] a, b, mul, add, div, sqrt;
  logic signed [15:0] code;
  logic [16:0] e;
  string file;
  integer count, i;
  fp32_mul u_mul (
      .a(a),
      .b(b),
      .result(mul)
  );
  fp32_add u_add (
      .a(a),
      .b(b),
      .result(add)
  );
  fp32_div u_div (
      .a(a),
      .b(b),
      .result(div)
  );
  fp32_sqrt u_sqrt (
      .a(a),
      .result(sqrt)
  );
  fp32_to_code u_code (
      .value(a),
      .code(code)
  );
  exp_unit u_exp (
      .d(a),
      .e(e)
  );

  function automatic logic same(input logic [31:0] rtl, input logic [31:0] expected);
    // NaN results compare as a class: the contract defines no payloads.
    same = rtl == expected ||
        (rtl[30:23] == 8'hFF && rtl[22:0] != 0 && expected[30:23] == 8'hFF && expected[22:0] != 0);
  endfunction

  initial begin
    if (!$value$plusargs("vectors=%s", file) || !$value$plusargs("count=%d", count)) begin
      $display("FAIL: usage: vvp TB +vectors=FILE +count=N");
      $fatal(1);
    end
    $readmemh(file, vectors, 0, count - 1);
    for (i = 0; i < count; i = i + 1) begin
      a = vectors[i][255:224];
      b = vectors[i][223:192];
      #1;
      if (!same(mul, vectors[i][191:160]) || !same(add, vectors[i][159:128]) ||
          !same(div, vectors[i][127:96]) || !same(sqrt, vectors[i][95:64]) ||
          {16'd0, code} != vectors[i][63:32] || {15'd0, e} != vectors[i][31:0]) begin
        $display("FAIL at vector %0d: a %h b %h: rtl mul %h add %h div %h sqrt %h code %h exp %h; expected %h",
                 i, a, b, mul, add, div, sqrt, code, e, vectors[i][191:0]);
        $fatal(1);
      end
    end
    $display("PASS: %0d vectors", count);
    $finish;
  end
endmodule
