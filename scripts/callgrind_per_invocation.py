"""Instructions per warm invocation from two callgrind profiles of the same function, one
after FEW and one after MANY warm invocations: the difference divided by MANY - FEW leaves
out start-up and the cold invocation. Prints a Markdown row per part of the work.

    callgrind_per_invocation.py FUNCTION FEW_PROFILE MANY_PROFILE FEW MANY
"""
import re
import subprocess
import sys

# Inclusive cost of these functions (callgrind_annotate names), per warm invocation.
PARTS = [
    ("DynamoDB call (AWS SDK orchestrator)", "aws_smithy_runtime::client::orchestrator::invoke_with_stop_point::"),
    ("of which SigV4 signing", "aws_sigv4::http_request::sign::sign ["),
    ("of which SHA-256 (software under valgrind)", "sha2::sha256::compress256 ["),
    ("API Gateway event parsing (lambda_http)", "lambda_http-1.3.2/src/deserializer.rs:lambda_runtime::runtime::process_invocation"),
    ("log events (tracing)", "tracing_core::event::Event::dispatch ["),
    ("malloc + free", ("malloc.c:malloc [", "malloc.c:free [")),
]


def inclusive_costs(profile):
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
        capture_output=True, text=True, check=True,
    ).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$", line)
        if m:
            name, cost = m.group(2), int(m.group(1).replace(",", ""))
            costs[name] = max(costs.get(name, 0), cost)
    return costs


def cost_of(costs, pattern):
    patterns = pattern if isinstance(pattern, tuple) else (pattern,)
    return sum(max((c for n, c in costs.items() if p in n), default=0) for p in patterns)


def main():
    function, few_profile, many_profile, few, many = sys.argv[1:6]
    runs = int(many) - int(few)
    few_costs, many_costs = inclusive_costs(few_profile), inclusive_costs(many_profile)
    total = (many_costs["PROGRAM TOTALS"] - few_costs["PROGRAM TOTALS"]) / runs
    print(f"| {function} | instructions per warm invocation (user space) | {total:,.0f} | 100% |")
    for name, pattern in PARTS:
        part = (cost_of(many_costs, pattern) - cost_of(few_costs, pattern)) / runs
        print(f"| {function} | {name} | {part:,.0f} | {100 * part / total:.0f}% |")


if __name__ == "__main__":
    main()
