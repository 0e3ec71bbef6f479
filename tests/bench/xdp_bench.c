/* xdp_bench.c -- the XDP program against a trivial XDP_TX reflector (MAC,
 * IPv4, port swap), run by the kernel on the same hit frames with
 * bpf_prog_test_run_opts(repeat), alternating, in one run. Prints a table
 * and last `xdp ratio=R mpps=M` (R = reflector time / carousel time). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/frame_util.h"
#include "engine.h"
#include "publish.h"
#include "xdp.h"

#define REPEAT 2000000

static int ifindex;

/* Live-frames mode: every repetition starts from a fresh copy of the frame
 * (a plain repeated run would answer its own answer), and XDP_TX frames
 * really leave through the interface, a veth in the script's namespace. */
static double run(int fd, const uint8_t *f, size_t len, int *action)
{
	uint8_t in[2048], out[2048];
	struct xdp_md ctx = {.data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex};

	memcpy(in, f, len);
	LIBBPF_OPTS(bpf_test_run_opts, check, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	if (bpf_prog_test_run_opts(fd, &check) != 0)
		return -1;
	*action = (int)check.retval; /* what one frame gets */
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = REPEAT,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	if (bpf_prog_test_run_opts(fd, &o) != 0)
		return -1;
	return o.duration; /* ns per frame, averaged by the kernel */
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"www.example.test", "shop.example.test",
					    "web.example.test", "app.example.test"};
	const char *reflect_obj = argc > 1 ? argv[1] : "build/xdp_reflect.bpf.o";

	ifindex = argc > 2 ? (int)if_nametoindex(argv[2]) : 0;
	if (ifindex == 0) {
		fprintf(stderr, "usage: xdp_bench REFLECT.bpf.o IFACE (a veth to transmit on)\n");
		return 2;
	}

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	struct config *cfg = fu_load_bundled();

	if (!cfg)
		return 1;
	fu_dp_addresses(cfg);
	if (xdp_init(&cfg->dp, false) < 0)
		return 1;
	struct publisher *pub = publish_create(&xdp_ops);

	publish_config(pub, cfg);
	struct bpf_object *obj = bpf_object__open_file(reflect_obj, NULL);

	if (!obj || bpf_object__load(obj) != 0) {
		fprintf(stderr, "cannot load %s\n", reflect_obj);
		return 1;
	}
	int rfd = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_reflect"));
	double t_car = 0, t_ref = 0;

	printf("| frame | carousel ns | reflector ns | ratio |\n|---|---|---|---|\n");
	for (int round = 0; round < 2; round++)
		for (unsigned i = 0; i < 4; i++) {
			uint8_t dns[512], f[2048];
			size_t dl = fu_dns_query(dns, 7, names[i], TYPE_A, i & 1 ? 1232 : 0, false);
			size_t fl = fu_frame(f, false, dns, dl, 40000);
			int a1 = 0, a2 = 0;
			double c = run(xdp_prog_fd(), f, fl, &a1), r = run(rfd, f, fl, &a2);

			if (a1 != XDP_TX || a2 != XDP_TX || c <= 0 || r <= 0) {
				fprintf(stderr, "unexpected action %d/%d\n", a1, a2);
				return 1;
			}
			printf("| %s A%s | %.0f | %.0f | %.2f |\n", names[i], i & 1 ? " +EDNS" : "", c,
			       r, r / c);
			t_car += c;
			t_ref += r;
		}
	printf("\nmean: carousel %.0f ns, reflector %.0f ns per frame\n", t_car / 8, t_ref / 8);
	printf("xdp ratio=%.2f mpps=%.2f\n", t_ref / t_car, 1e3 / (t_car / 8));
	bpf_object__close(obj);
	xdp_ops.stop();
	publish_destroy(pub);
	config_free(cfg);
	return 0;
}
