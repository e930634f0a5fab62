// SPDX-License-Identifier: GPL-2.0
/*
 * esxmm-balloond: options, signals and the main loop. See esxmm-balloond(8) and agent.c.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "balloond.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " BD_NAME " [OPTION]...\n"
"Apply esxmm's balloon targets to libvirt domains whose memory is on esxmm.\n"
"\n"
"For each running domain whose QEMU process maps a file of an esxmm mount, the agent\n"
"finds the file's /sys/kernel/esxmm/vms/<id>/, writes 'shares' and 'min_pages' from the\n"
"domain XML, and sets the domain's memory (virDomainSetMemory) to its maximum minus\n"
"vms/<id>/balloon_target_pages, following that file as esxmm changes it.\n"
"\n"
"Domain XML it reads (all optional):\n"
"  <metadata>\n"
"    <esxmm:memory xmlns:esxmm=\"" BD_XMLNS "\"\n"
"                  shares=\"2000\" min_guarantee_kib=\"524288\"/>\n"
"  </metadata>\n"
"  shares             1..4294967295, esxmm's proportional share (default: 10 per MiB)\n"
"  min_guarantee_kib  the reservation in KiB, written as min_pages (KiB / 4)\n"
"  <memtune><min_guarantee> is used for the reservation when the attribute is absent\n"
"  (libvirt's QEMU driver refuses it, so use the attribute there).\n"
"Set it on a running domain with virsh, e.g.:\n"
"  virsh metadata vm1 --uri " BD_XMLNS " --key esxmm \\\n"
"        --set '<memory shares=\"2000\"/>' --live --config\n"
"\n"
"Options:\n"
"  -c, --connect=URI          libvirt URI (default qemu:///system)\n"
"  -n, --dry-run              log what would be written or set; change nothing\n"
"  -1, --once                 one rescan, then exit (with -n: show what it would do)\n"
"  -v, --verbose              debug messages too (stats, every decision)\n"
"  -r, --rescan=SECS          rescan all domains this often (default 30)\n"
"  -S, --stats-period=SECS    balloon stats period set on each domain (default 5, 0 off)\n"
"  -m, --min-change=KIB       ignore balloon changes smaller than this (default 1024)\n"
"  -P, --min-change-percent=N ... or than N %% of the domain's memory (default 1)\n"
"  -I, --min-interval=MS      at most one change per domain this often (default 2000)\n"
"  -f, --floor=KIB            never set a domain below this (default 131072)\n"
"  -i, --poll-interval=MS     also re-read the targets this often (default 0: only\n"
"                             when esxmm notifies a change; tests use it with fake trees)\n"
"  -s, --sysfs-root=DIR       esxmm's sysfs directory (default /sys/kernel/esxmm)\n"
"  -p, --proc-root=DIR        procfs (default /proc)\n"
"  -h, --help                 this text\n"
"  -V, --version              the version\n"
"\n"
"Signals: SIGHUP rescans now, SIGUSR1 logs a status line per domain, SIGTERM and SIGINT\n"
"exit. Messages go to stderr (syslog levels under systemd). See esxmm-balloond(8).\n");
}

static int num_opt(const char *name, const char *arg, long long min, long long max,
		   long long *v)
{
	uint64_t x;

	if (bd_parse_u64(arg, UINT64_MAX, &x) || x < (uint64_t)min || x > (uint64_t)max) {
		fprintf(stderr, BD_NAME ": --%s: '%s' is not a number from %lld to %lld\n", name,
			arg, min, max);
		return -1;
	}
	*v = (long long)x;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "once", no_argument, NULL, '1' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "rescan", required_argument, NULL, 'r' },
		{ "stats-period", required_argument, NULL, 'S' },
		{ "min-change", required_argument, NULL, 'm' },
		{ "min-change-percent", required_argument, NULL, 'P' },
		{ "min-interval", required_argument, NULL, 'I' },
		{ "floor", required_argument, NULL, 'f' },
		{ "poll-interval", required_argument, NULL, 'i' },
		{ "sysfs-root", required_argument, NULL, 's' },
		{ "proc-root", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct bd_opts o;
	struct bd_agent *a;
	struct pollfd pfd;
	sigset_t set;
	long long v;
	int c, once = 0, quit = 0, status = 0;

	bd_opts_default(&o);
	while ((c = getopt_long(argc, argv, "c:n1vr:S:m:P:I:f:i:s:p:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.uri = optarg;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case '1':
			once = 1;
			break;
		case 'v':
			bd_log_level = BD_DEBUG;
			break;
		case 'r':
			if (num_opt("rescan", optarg, 1, 86400, &v))
				return 2;
			o.rescan_ms = (int)v * 1000;
			break;
		case 'S':
			if (num_opt("stats-period", optarg, 0, 86400, &v))
				return 2;
			o.stats_period_s = (int)v;
			break;
		case 'm':
			if (num_opt("min-change", optarg, 0, LLONG_MAX / 2, &v))
				return 2;
			o.min_change_kib = v;
			break;
		case 'P':
			if (num_opt("min-change-percent", optarg, 0, 100, &v))
				return 2;
			o.min_change_percent = (unsigned int)v;
			break;
		case 'I':
			if (num_opt("min-interval", optarg, 0, 3600000, &v))
				return 2;
			o.min_interval_ms = (int)v;
			break;
		case 'f':
			if (num_opt("floor", optarg, 0, LLONG_MAX / 2, &v))
				return 2;
			o.floor_kib = v;
			break;
		case 'i':
			if (num_opt("poll-interval", optarg, 0, 3600000, &v))
				return 2;
			o.poll_interval_ms = (int)v;
			break;
		case 's':
			o.sysfs_root = optarg;
			break;
		case 'p':
			o.proc_root = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(BD_NAME " " BD_VERSION "\n");
			return 0;
		default:
			fprintf(stderr, "Try '" BD_NAME " --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, BD_NAME ": unexpected argument '%s'; try '" BD_NAME " --help'.\n",
			argv[optind]);
		return 2;
	}

	/* before libvirt starts any thread, so that all of them have these blocked */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	pfd.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	pfd.events = POLLIN;
	if (pfd.fd < 0) {
		bd_err("signalfd: %s", strerror(errno));
		return 1;
	}

	if (virInitialize() < 0 || bd_evloop_register()) {
		bd_err("cannot initialize libvirt");
		return 1;
	}
	a = bd_agent_new(&o);
	if (!a) {
		bd_err("out of memory");
		return 1;
	}
	bd_notice("starting: %s, %s, rescan every %d s%s", o.uri, o.sysfs_root,
		  o.rescan_ms / 1000, o.dry_run ? ", dry run" : "");

	while (!quit) {
		struct signalfd_siginfo si;

		if (bd_agent_step(a, &pfd, 1, -1) < 0 && errno != EINTR) {
			bd_err("poll: %s", strerror(errno));
			status = 1;
			break;
		}
		if (once && bd_agent_counters(a)->rescans) {
			if (!bd_agent_conn(a))
				status = 1;
			break;
		}
		while (read(pfd.fd, &si, sizeof(si)) == sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGHUP:
				bd_notice("SIGHUP: rescanning");
				bd_agent_request_rescan(a);
				break;
			case SIGUSR1:
				bd_agent_status(a);
				break;
			default:
				bd_notice("%s: exiting", strsignal((int)si.ssi_signo));
				quit = 1;
			}
		}
		if (once && !bd_agent_conn(a)) {
			bd_err("--once: no connection to %s", o.uri);
			status = 1;
			break;
		}
	}
	bd_agent_free(a);
	close(pfd.fd);
	return status;
}
