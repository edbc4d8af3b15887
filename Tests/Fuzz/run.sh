#!/usr/bin/env bash
# Builds the argument-parser (and sd_notify message) fuzzer with libFuzzer and AddressSanitizer and
# runs it for a bounded time (default 60 s; FUZZ_SECONDS overrides).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.build-fuzz
mkdir -p "$out/corpus"
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name SupervisorCore -emit-module \
    -emit-module-path "$out/SupervisorCore.swiftmodule" -emit-library -static \
    Sources/SupervisorCore/*.swift -o "$out/libSupervisorCore.a"
swiftc -sanitize=fuzzer,address -parse-as-library -O -I "$out" -L "$out" -lSupervisorCore \
    Tests/Fuzz/ArgumentsFuzzer.swift -o "$out/fuzz-arguments"
# Seeds: typical command lines, NUL-separated.
printf -- '-d\0000.25\000--\000sleep\0005\000--\000:wait:-true' > "$out/corpus/seed1"
printf -- '-qqq\000-i\0003600\000--\000-php -f x' > "$out/corpus/seed2"
printf -- '-k\0001.5\000-g\000--\000a\000\\\\--\000--\000b' > "$out/corpus/seed3"
printf -- '-r\0002\000--\000:notify:-x\000--\000:wait:y' > "$out/corpus/seed4"
printf -- 'READY=1\nSTATUS=Ready to handle connections\nEXTEND_TIMEOUT_USEC=1000\nERRNO=5' > "$out/corpus/seed5"
printf -- '--\000:name=web::stop=QUIT:-nginx\000--\000:wait::stop=RTMIN+3:x' > "$out/corpus/seed6"
"$out/fuzz-arguments" -artifact_prefix="$out/" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=256 -print_final_stats=1 "$out/corpus" 2>&1 | tail -15
