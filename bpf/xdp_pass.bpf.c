// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xdp_pass.bpf.c -- XDP_PASS everything. Attached to the peer of a veth
 * so that native XDP_TX works on the other end (tests, benchmarks). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
