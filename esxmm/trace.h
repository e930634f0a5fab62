/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esxmm tracepoints (scalar fields only):
 *   esxmm:share_merge  a PPN now maps a shared frame
 *   esxmm:share_cow    a write broke a share (copied, or took the page over)
 *   esxmm:share_hint   what a hint lookup found
 *   esxmm:sample_period  a guest's sampling period ended
 *   esxmm:balance      targets and the free-memory state were recomputed
 *   esxmm:swap_out     a page went to a swap slot
 *   esxmm:swap_in      a page came back from one
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

TRACE_EVENT(sample_period,
	TP_PROTO(unsigned int vm, unsigned long touched, unsigned long sampled,
		 unsigned int slow, unsigned int fast, unsigned int estimate),
	TP_ARGS(vm, touched, sampled, slow, fast, estimate),
	TP_STRUCT__entry(
		__field(unsigned int, vm)
		__field(unsigned long, touched)
		__field(unsigned long, sampled)
		__field(unsigned int, slow)
		__field(unsigned int, fast)
		__field(unsigned int, estimate)
	),
	TP_fast_assign(
		__entry->vm = vm;
		__entry->touched = touched;
		__entry->sampled = sampled;
		__entry->slow = slow;
		__entry->fast = fast;
		__entry->estimate = estimate;
	),
	TP_printk("vm=%u t=%lu n=%lu slow=%u fast=%u estimate=%u", __entry->vm,
		  __entry->touched, __entry->sampled, __entry->slow, __entry->fast,
		  __entry->estimate)
);

TRACE_EVENT(balance,
	TP_PROTO(unsigned long pool, unsigned long free, int state, unsigned long vms),
	TP_ARGS(pool, free, state, vms),
	TP_STRUCT__entry(
		__field(unsigned long, pool)
		__field(unsigned long, free)
		__field(int, state)
		__field(unsigned long, vms)
	),
	TP_fast_assign(
		__entry->pool = pool;
		__entry->free = free;
		__entry->state = state;
		__entry->vms = vms;
	),
	TP_printk("pool=%lu free=%lu state=%d vms=%lu", __entry->pool, __entry->free,
		  __entry->state, __entry->vms)
);

DECLARE_EVENT_CLASS(swap_page,
	TP_PROTO(unsigned int vm, unsigned long ppn, unsigned long slot),
	TP_ARGS(vm, ppn, slot),
	TP_STRUCT__entry(
		__field(unsigned int, vm)
		__field(unsigned long, ppn)
		__field(unsigned long, slot)
	),
	TP_fast_assign(
		__entry->vm = vm;
		__entry->ppn = ppn;
		__entry->slot = slot;
	),
	TP_printk("vm=%u ppn=%lu slot=%lu", __entry->vm, __entry->ppn, __entry->slot)
);

DEFINE_EVENT(swap_page, swap_out,
	TP_PROTO(unsigned int vm, unsigned long ppn, unsigned long slot),
	TP_ARGS(vm, ppn, slot)
);

DEFINE_EVENT(swap_page, swap_in,
	TP_PROTO(unsigned int vm, unsigned long ppn, unsigned long slot),
	TP_ARGS(vm, ppn, slot)
);

#endif /* ESXMM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
