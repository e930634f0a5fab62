/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esxmm tracepoints (scalar fields only):
 *   esxmm:share_merge  a PPN now maps a shared frame
 *   esxmm:share_cow    a write broke a share (copied, or took the page over)
 *   esxmm:share_hint   what a hint lookup found
 * CREATE_TRACE_POINTS is defined in share/scan.c alone.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM esxmm

#if !defined(ESXMM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define ESXMM_TRACE_H

#include <linux/tracepoint.h>

#define ESXMM_HINT_INSERTED	0
#define ESXMM_HINT_HIT		1
#define ESXMM_HINT_STALE	2
#define ESXMM_HINT_COLLISION	3

TRACE_EVENT(share_merge,
	TP_PROTO(unsigned int vm, unsigned long ppn, u64 hash, unsigned int count),
	TP_ARGS(vm, ppn, hash, count),
	TP_STRUCT__entry(
		__field(unsigned int, vm)
		__field(unsigned long, ppn)
		__field(u64, hash)
		__field(unsigned int, count)
	),
	TP_fast_assign(
		__entry->vm = vm;
		__entry->ppn = ppn;
		__entry->hash = hash;
		__entry->count = count;
	),
	TP_printk("vm=%u ppn=%lu hash=%016llx count=%u",
		  __entry->vm, __entry->ppn, __entry->hash, __entry->count)
);

TRACE_EVENT(share_cow,
	TP_PROTO(unsigned int vm, unsigned long ppn, bool copied),
	TP_ARGS(vm, ppn, copied),
	TP_STRUCT__entry(
		__field(unsigned int, vm)
		__field(unsigned long, ppn)
		__field(bool, copied)
	),
	TP_fast_assign(
		__entry->vm = vm;
		__entry->ppn = ppn;
		__entry->copied = copied;
	),
	TP_printk("vm=%u ppn=%lu %s", __entry->vm, __entry->ppn,
		  __entry->copied ? "copied" : "last sharer kept the page")
);

TRACE_EVENT(share_hint,
	TP_PROTO(unsigned int vm, unsigned long ppn, u64 hash, int result),
	TP_ARGS(vm, ppn, hash, result),
	TP_STRUCT__entry(
		__field(unsigned int, vm)
		__field(unsigned long, ppn)
		__field(u64, hash)
		__field(int, result)
	),
	TP_fast_assign(
		__entry->vm = vm;
		__entry->ppn = ppn;
		__entry->hash = hash;
		__entry->result = result;
	),
	TP_printk("vm=%u ppn=%lu hash=%016llx %s", __entry->vm, __entry->ppn, __entry->hash,
		  __print_symbolic(__entry->result,
				   { ESXMM_HINT_INSERTED, "inserted" },
				   { ESXMM_HINT_HIT, "hit" },
				   { ESXMM_HINT_STALE, "stale" },
				   { ESXMM_HINT_COLLISION, "collision" }))
);

#endif /* ESXMM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
