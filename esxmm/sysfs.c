// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/esxmm/: translates files into calls, nothing more (the logic
 * is in pool.c, vm.c and shadow/). The names are a contract that tools and
 * tests read; Documentation/admin-guide.rst lists them.
 *
 *   pool_pages (rw)  free_pages  allocated_pages  pool_failures  vms_count
 *   tax_percent (rw)  balance_millisecs (rw)  state  state_{high,soft,hard,low}_percent (rw)
 *   sample/  period_millisecs (rw)  sample_pages (rw)
 *   share/  run (rw)  pages_to_scan (rw)  sleep_millisecs (rw)  pages_shared
 *           pages_sharing  pages_hinted  hint_hits  hint_stale  zero_pages
 *           cow_breaks  hash_collisions  pages_scanned  pinned_skips  frame_bytes
 *   swap/   file (rw)  shrinker (rw)  slots_total  slots_used  pages_swapped_out
 *           pages_swapped_in  write_errors  read_errors  pinned_skips  shrinker_pages
 *   vms/<id>/  path  size_pages  resident_pages  faults  shared_pages
 *           share_group (rw)  shares (rw)  min_pages (rw)  active_permille
 *           active_{slow,fast,period}_permille  target_pages  reclaim_pages
 *           swapped_pages  blocked_faults  ballooned_pages  balloon_violations
 *           balloon_target_pages (pollable)
 */
#include <linux/dcache.h>
#include <linux/idr.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "esxmm.h"
#include "parse.h"
#include "range.h"
#include "reclaim/reclaim.h"
#include "share/share.h"

static struct kobject *esxmm_kobj;	/* /sys/kernel/esxmm */
static struct kobject *vms_kobj;	/* /sys/kernel/esxmm/vms */
static struct kobject *share_kobj;	/* /sys/kernel/esxmm/share */
static struct kobject *sample_kobj;	/* /sys/kernel/esxmm/sample */
static struct kobject *swap_kobj;	/* /sys/kernel/esxmm/swap */
static DEFINE_IDA(vm_ida);		/* vm ids; the IDA locks itself */

/* Global tunables */

static ssize_t pool_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_pool_limit(&esxmm_pool));
}

/*
 * 1 .. the machine's RAM. Below what is allocated is allowed: new pages
 * are refused until enough are given back.
 */
static ssize_t pool_pages_store(struct kobject *kobj, struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	unsigned long pages;
	int err;

	err = esxmm_parse_ulong(buf, count, 1, totalram_pages(), &pages);
	if (err)
		return err;
	esxmm_pool_set_limit(&esxmm_pool, pages);
	esxmm_reclaim_kick();
	return count;
}
static struct kobj_attribute pool_pages_attr = __ATTR_RW(pool_pages);

#define CFG_ATTR(name, field, min, max)						\
static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *attr,	\
			   char *buf)						\
{										\
	return sysfs_emit(buf, "%u\n", READ_ONCE(esxmm_reclaim_cfg.field));	\
}										\
static ssize_t name##_store(struct kobject *kobj, struct kobj_attribute *attr,	\
			    const char *buf, size_t count)			\
{										\
	unsigned long v;							\
	int err = esxmm_parse_ulong(buf, count, min, max, &v);			\
										\
	if (!err)								\
		err = esxmm_reclaim_set(&esxmm_reclaim_cfg.field, v);		\
	return err ? err : count;						\
}										\
static struct kobj_attribute name##_attr = __ATTR_RW(name)

#define THRESHOLD_ATTR(name, field)						\
static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *attr,	\
			   char *buf)						\
{										\
	return sysfs_emit(buf, "%u\n", READ_ONCE(esxmm_reclaim_cfg.th.field));	\
}										\
static ssize_t name##_store(struct kobject *kobj, struct kobj_attribute *attr,	\
			    const char *buf, size_t count)			\
{										\
	unsigned long v;							\
	int err = esxmm_parse_ulong(buf, count, 0, 100, &v);			\
										\
	if (!err)								\
		err = esxmm_reclaim_set_threshold(&esxmm_reclaim_cfg.th.field, v); \
	return err ? err : count;						\
}										\
static struct kobj_attribute name##_attr = __ATTR_RW(name)

/* 0 .. 99 %: at 100 an idle page would cost infinitely more than an active one. */
CFG_ATTR(tax_percent, tax_percent, 0, ESXMM_MAX_TAX_PERCENT);
CFG_ATTR(balance_millisecs, balance_ms, 10, 600000);
/* Each: 0 .. 100 % of the pool, with high >= soft >= hard >= low. */
THRESHOLD_ATTR(state_high_percent, high);
THRESHOLD_ATTR(state_soft_percent, soft);
THRESHOLD_ATTR(state_hard_percent, hard);
THRESHOLD_ATTR(state_low_percent, low);
CFG_ATTR(period_millisecs, period_ms, 100, 3600000);
CFG_ATTR(sample_pages, sample_pages, 1, 100000);

static ssize_t state_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", esxmm_state_name(esxmm_reclaim_state()));
}
static struct kobj_attribute state_attr = __ATTR_RO(state);

static struct attribute *sample_attrs[] = {
	&period_millisecs_attr.attr,
	&sample_pages_attr.attr,
	NULL,
};

static const struct attribute_group sample_group = {
	.attrs = sample_attrs,
};

static struct attribute *esxmm_tunable_attrs[] = {
	&pool_pages_attr.attr,
	&tax_percent_attr.attr,
	&balance_millisecs_attr.attr,
	&state_high_percent_attr.attr,
	&state_soft_percent_attr.attr,
	&state_hard_percent_attr.attr,
	&state_low_percent_attr.attr,
	NULL,
};

static const struct attribute_group esxmm_tunable_group = {
	.attrs = esxmm_tunable_attrs,
};

/* Global counters */

static ssize_t free_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_pool_free(&esxmm_pool));
}
static struct kobj_attribute free_pages_attr = __ATTR_RO(free_pages);

static ssize_t allocated_pages_show(struct kobject *kobj, struct kobj_attribute *attr,
				    char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_pool_allocated(&esxmm_pool));
}
static struct kobj_attribute allocated_pages_attr = __ATTR_RO(allocated_pages);

static ssize_t pool_failures_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&esxmm_pool.failed));
}
static struct kobj_attribute pool_failures_attr = __ATTR_RO(pool_failures);

static ssize_t vms_count_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_vm_count());
}
static struct kobj_attribute vms_count_attr = __ATTR_RO(vms_count);

static struct attribute *esxmm_counter_attrs[] = {
	&free_pages_attr.attr,
	&allocated_pages_attr.attr,
	&pool_failures_attr.attr,
	&vms_count_attr.attr,
	&state_attr.attr,
	NULL,
};

static const struct attribute_group esxmm_counter_group = {
	.attrs = esxmm_counter_attrs,
};

static const struct attribute_group *esxmm_groups[] = {
	&esxmm_tunable_group,
	&esxmm_counter_group,
	NULL,
};


/* share/ */

static ssize_t run_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", esxmm_share_get_run());
}

/* 0 stop, 1 run, 2 stop and unshare everything (-ENOMEM if it cannot). */
static ssize_t run_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	unsigned long run;
	int err;

	err = esxmm_parse_ulong(buf, count, ESXMM_SHARE_STOP, ESXMM_SHARE_UNSHARE, &run);
	if (err)
		return err;
	err = esxmm_share_set_run(run);
	return err ? err : count;
}
static struct kobj_attribute run_attr = __ATTR_RW(run);

static ssize_t pages_to_scan_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", esxmm_share_pages_to_scan());
}

/* 1 .. 100000 pages per batch. */
static ssize_t pages_to_scan_store(struct kobject *kobj, struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned long n;
	int err;

	err = esxmm_parse_ulong(buf, count, 1, 100000, &n);
	if (err)
		return err;
	esxmm_share_set_rate(n, esxmm_share_sleep_ms());
	return count;
}
static struct kobj_attribute pages_to_scan_attr = __ATTR_RW(pages_to_scan);

static ssize_t sleep_millisecs_show(struct kobject *kobj, struct kobj_attribute *attr,
				    char *buf)
{
	return sysfs_emit(buf, "%u\n", esxmm_share_sleep_ms());
}

/* 0 .. 60000 ms between batches. */
static ssize_t sleep_millisecs_store(struct kobject *kobj, struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned long ms;
	int err;

	err = esxmm_parse_ulong(buf, count, 0, 60000, &ms);
	if (err)
		return err;
	esxmm_share_set_rate(esxmm_share_pages_to_scan(), ms);
	return count;
}
static struct kobj_attribute sleep_millisecs_attr = __ATTR_RW(sleep_millisecs);

static struct attribute *share_tunable_attrs[] = {
	&run_attr.attr,
	&pages_to_scan_attr.attr,
	&sleep_millisecs_attr.attr,
	NULL,
};

static const struct attribute_group share_tunable_group = {
	.attrs = share_tunable_attrs,
};

static ssize_t pages_shared_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(esxmm_frames.nr_shared));
}
static struct kobj_attribute pages_shared_attr = __ATTR_RO(pages_shared);

static ssize_t pages_sharing_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(esxmm_frames.nr_sharing));
}
static struct kobj_attribute pages_sharing_attr = __ATTR_RO(pages_sharing);

static ssize_t pages_hinted_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(esxmm_frames.nr_hints));
}
static struct kobj_attribute pages_hinted_attr = __ATTR_RO(pages_hinted);

static ssize_t frame_bytes_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%zu\n", sizeof(struct esxmm_frame));
}
static struct kobj_attribute frame_bytes_attr = __ATTR_RO(frame_bytes);

#define SHARE_STAT_ATTR(name)							\
static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *attr,	\
			   char *buf)						\
{										\
	return sysfs_emit(buf, "%ld\n",					\
			  atomic_long_read(&esxmm_share_stats.name));		\
}										\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

SHARE_STAT_ATTR(pages_scanned);
SHARE_STAT_ATTR(hint_hits);
SHARE_STAT_ATTR(hint_stale);
SHARE_STAT_ATTR(hash_collisions);
SHARE_STAT_ATTR(cow_breaks);
SHARE_STAT_ATTR(zero_pages);
SHARE_STAT_ATTR(pinned_skips);

static struct attribute *share_counter_attrs[] = {
	&pages_shared_attr.attr,
	&pages_sharing_attr.attr,
	&pages_hinted_attr.attr,
	&frame_bytes_attr.attr,
	&pages_scanned_attr.attr,
	&hint_hits_attr.attr,
	&hint_stale_attr.attr,
	&hash_collisions_attr.attr,
	&cow_breaks_attr.attr,
	&zero_pages_attr.attr,
	&pinned_skips_attr.attr,
	NULL,
};

static const struct attribute_group share_counter_group = {
	.attrs = share_counter_attrs,
};

static const struct attribute_group *share_groups[] = {
	&share_tunable_group,
	&share_counter_group,
	NULL,
};

/* swap/ */

static ssize_t file_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return esxmm_swap_show_file(buf);
}

/* An absolute path of a root-owned 0600 preallocated file, or "none". */
static ssize_t file_store(struct kobject *kobj, struct kobj_attribute *attr,
			  const char *buf, size_t count)
{
	int err = esxmm_swap_set_file(buf, count);

	return err ? err : count;
}
static struct kobj_attribute file_attr = __ATTR_RW(file);

static ssize_t shrinker_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", esxmm_swap_shrinker_on());
}

/* 0: the host's reclaim may not ask esxmm for pages; 1: it may. */
static ssize_t shrinker_store(struct kobject *kobj, struct kobj_attribute *attr,
			      const char *buf, size_t count)
{
	unsigned long v;
	int err = esxmm_parse_ulong(buf, count, 0, 1, &v);

	if (err)
		return err;
	esxmm_swap_set_shrinker(v);
	return count;
}
static struct kobj_attribute shrinker_attr = __ATTR_RW(shrinker);

#define SWAP_FN_ATTR(name, fn)							\
static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *attr,	\
			   char *buf)						\
{										\
	return sysfs_emit(buf, "%lu\n", fn());					\
}										\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

SWAP_FN_ATTR(slots_total, esxmm_swap_slots_total);
SWAP_FN_ATTR(slots_used, esxmm_swap_slots_used);

#define SWAP_STAT_ATTR(name, field)						\
static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *attr,	\
			   char *buf)						\
{										\
	return sysfs_emit(buf, "%ld\n",					\
			  atomic_long_read(&esxmm_swap_stats.field));		\
}										\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

SWAP_STAT_ATTR(pages_swapped_out, pages_out);
SWAP_STAT_ATTR(pages_swapped_in, pages_in);
SWAP_STAT_ATTR(write_errors, write_errors);
SWAP_STAT_ATTR(read_errors, read_errors);

/* swap/pinned_skips: the C name differs from share/'s counter of that name. */
static ssize_t swap_pinned_skips_show(struct kobject *kobj, struct kobj_attribute *attr,
				      char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&esxmm_swap_stats.pinned_skips));
}
static struct kobj_attribute swap_pinned_skips_attr =
	__ATTR(pinned_skips, 0444, swap_pinned_skips_show, NULL);
SWAP_STAT_ATTR(shrinker_pages, shrinker_pages);

static struct attribute *swap_attrs[] = {
	&file_attr.attr,
	&shrinker_attr.attr,
	&slots_total_attr.attr,
	&slots_used_attr.attr,
	&pages_swapped_out_attr.attr,
	&pages_swapped_in_attr.attr,
	&write_errors_attr.attr,
	&read_errors_attr.attr,
	&shrinker_pages_attr.attr,
	&swap_pinned_skips_attr.attr,
	NULL,
};

static const struct attribute_group swap_group = {
	.attrs = swap_attrs,
};

/* Per-vm directory */

static struct esxmm_vm *to_vm(struct kobject *kobj)
{
	return container_of(kobj, struct esxmm_vm, kobj);
}

/* The file's path inside its mount; "(deleted)" once its last name is gone. */
static ssize_t path_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct esxmm_vm *vm = to_vm(kobj);
	struct dentry *dentry = d_find_alias(vm->inode);
	char *p;
	size_t len;

	if (!dentry)
		return sysfs_emit(buf, "(deleted)\n");
	p = dentry_path_raw(dentry, buf, PAGE_SIZE - 1);
	dput(dentry);
	if (IS_ERR(p))
		return PTR_ERR(p);
	len = strlen(p);
	memmove(buf, p, len);
	buf[len++] = '\n';
	return len;
}
static struct kobj_attribute path_attr = __ATTR_RO(path);

static ssize_t size_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", esxmm_size_to_pages(i_size_read(to_vm(kobj)->inode)));
}
static struct kobj_attribute size_pages_attr = __ATTR_RO(size_pages);

/* An atomic_long_t counter of the vm. */
#define VM_COUNTER_ATTR(name, field)						\
static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *attr,	\
			   char *buf)						\
{										\
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&to_vm(kobj)->field));	\
}										\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

VM_COUNTER_ATTR(resident_pages, resident);
VM_COUNTER_ATTR(faults, faults);
VM_COUNTER_ATTR(shared_pages, shared);
VM_COUNTER_ATTR(swapped_pages, swapped);
VM_COUNTER_ATTR(blocked_faults, blocked_faults);
VM_COUNTER_ATTR(ballooned_pages, ballooned);
VM_COUNTER_ATTR(balloon_violations, balloon_violations);

/* Pollable: sysfs_notify() when a balance changes it. */
static ssize_t balloon_target_pages_show(struct kobject *kobj, struct kobj_attribute *attr,
					 char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(to_vm(kobj)->balloon_target));
}
static struct kobj_attribute balloon_target_pages_attr = __ATTR_RO(balloon_target_pages);



static ssize_t share_group_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_vm(kobj)->share_group));
}

/* 0 .. 2^31 - 1; moving unshares the guest's pages (-ENOMEM if it cannot). */
static ssize_t share_group_store(struct kobject *kobj, struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	unsigned long group;
	int err;

	err = esxmm_parse_ulong(buf, count, 0, ESXMM_MAX_SHARE_GROUP, &group);
	if (err)
		return err;
	err = esxmm_share_set_group(to_vm(kobj), group);
	return err ? err : count;
}
static struct kobj_attribute share_group_attr = __ATTR_RW(share_group);

static ssize_t shares_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", esxmm_vm_shares(to_vm(kobj)));
}

/* 1 .. 2^32 - 1 (default: 10 per MiB of size). */
static ssize_t shares_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	unsigned long v;
	int err = esxmm_parse_ulong(buf, count, 1, U32_MAX, &v);

	if (!err)
		err = esxmm_reclaim_set_shares(to_vm(kobj), v);
	return err ? err : count;
}
static struct kobj_attribute shares_attr = __ATTR_RW(shares);

static ssize_t min_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(to_vm(kobj)->min_pages));
}

/* 0 .. size_pages; -ENOMEM when admission control refuses it. */
static ssize_t min_pages_store(struct kobject *kobj, struct kobj_attribute *attr,
			       const char *buf, size_t count)
{
	unsigned long v;
	int err = esxmm_parse_ulong(buf, count, 0, ULONG_MAX, &v);

	if (!err)
		err = esxmm_reclaim_set_min(to_vm(kobj), v);
	return err ? err : count;
}
static struct kobj_attribute min_pages_attr = __ATTR_RW(min_pages);

#define ACTIVE_ATTR(name, expr)							\
static ssize_t name##_show(struct kobject *kobj, struct kobj_attribute *attr,	\
			   char *buf)						\
{										\
	unsigned int slow, fast, period;					\
	unsigned int est = esxmm_vm_active(to_vm(kobj), &slow, &fast, &period);	\
										\
	(void)est;								\
	return sysfs_emit(buf, "%u\n", expr);					\
}										\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

ACTIVE_ATTR(active_permille, est);
ACTIVE_ATTR(active_slow_permille, slow);
ACTIVE_ATTR(active_fast_permille, fast);
ACTIVE_ATTR(active_period_permille, period);

static unsigned long vm_target(struct esxmm_vm *vm)
{
	return min(READ_ONCE(vm->target), esxmm_size_to_pages(i_size_read(vm->inode)));
}

static ssize_t target_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", vm_target(to_vm(kobj)));
}
static struct kobj_attribute target_pages_attr = __ATTR_RO(target_pages);

static ssize_t reclaim_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct esxmm_vm *vm = to_vm(kobj);
	long res = atomic_long_read(&vm->resident);
	unsigned long target = vm_target(vm);

	return sysfs_emit(buf, "%lu\n", res > 0 && res > target ? res - target : 0);
}
static struct kobj_attribute reclaim_pages_attr = __ATTR_RO(reclaim_pages);

static struct attribute *esxmm_vm_attrs[] = {
	&path_attr.attr,
	&size_pages_attr.attr,
	&resident_pages_attr.attr,
	&faults_attr.attr,
	&shared_pages_attr.attr,
	&share_group_attr.attr,
	&shares_attr.attr,
	&min_pages_attr.attr,
	&active_permille_attr.attr,
	&active_slow_permille_attr.attr,
	&active_fast_permille_attr.attr,
	&active_period_permille_attr.attr,
	&target_pages_attr.attr,
	&reclaim_pages_attr.attr,
	&swapped_pages_attr.attr,
	&blocked_faults_attr.attr,
	&ballooned_pages_attr.attr,
	&balloon_violations_attr.attr,
	&balloon_target_pages_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(esxmm_vm);

static void esxmm_vm_release(struct kobject *kobj)
{
	struct esxmm_vm *vm = to_vm(kobj);

	esxmm_pmap_destroy(&vm->pmap);
	if (vm->id != UINT_MAX)
		ida_free(&vm_ida, vm->id);
	kfree(vm);
}

const struct kobj_type esxmm_vm_ktype = {
	.release	= esxmm_vm_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= esxmm_vm_groups,
};

/**
 * esxmm_sysfs_add_vm() - Give a new vm its id and its sysfs directory.
 * @vm: the vm, zeroed but for its inode and pmap.
 *
 * On failure the vm has been freed through its kobject's release.
 *
 * Return: 0 or a negative errno.
 */
int esxmm_sysfs_add_vm(struct esxmm_vm *vm)
{
	int id, err;

	kobject_init(&vm->kobj, &esxmm_vm_ktype);
	/* Hints pack the id in 24 bits (share/frame.h). */
	id = ida_alloc_max(&vm_ida, ESXMM_HINT_MAX_VM, GFP_KERNEL);
	if (id < 0) {
		vm->id = UINT_MAX;
		kobject_put(&vm->kobj);
		return id;
	}
	vm->id = id;
	err = kobject_add(&vm->kobj, vms_kobj, "%d", id);
	if (err) {
		kobject_put(&vm->kobj);
		return err;
	}
	return 0;
}

/**
 * esxmm_sysfs_init() - Create /sys/kernel/esxmm and its vms directory.
 *
 * Return: 0 or -ENOMEM.
 */
int esxmm_sysfs_init(void)
{
	int err;

	esxmm_kobj = kobject_create_and_add("esxmm", kernel_kobj);
	if (!esxmm_kobj)
		return -ENOMEM;
	err = sysfs_create_groups(esxmm_kobj, esxmm_groups);
	if (err)
		goto put_root;
	vms_kobj = kobject_create_and_add("vms", esxmm_kobj);
	if (!vms_kobj) {
		err = -ENOMEM;
		goto remove_groups;
	}
	share_kobj = kobject_create_and_add("share", esxmm_kobj);
	if (!share_kobj) {
		err = -ENOMEM;
		goto put_vms;
	}
	err = sysfs_create_groups(share_kobj, share_groups);
	if (err)
		goto put_share;
	sample_kobj = kobject_create_and_add("sample", esxmm_kobj);
	if (!sample_kobj) {
		err = -ENOMEM;
		goto remove_share;
	}
	err = sysfs_create_group(sample_kobj, &sample_group);
	if (err)
		goto put_sample;
	swap_kobj = kobject_create_and_add("swap", esxmm_kobj);
	if (!swap_kobj) {
		err = -ENOMEM;
		goto remove_sample;
	}
	err = sysfs_create_group(swap_kobj, &swap_group);
	if (err)
		goto put_swap;
	return 0;

put_swap:
	kobject_put(swap_kobj);
remove_sample:
	sysfs_remove_group(sample_kobj, &sample_group);
put_sample:
	kobject_put(sample_kobj);
remove_share:
	sysfs_remove_groups(share_kobj, share_groups);
put_share:
	kobject_put(share_kobj);
put_vms:
	kobject_put(vms_kobj);
remove_groups:
	sysfs_remove_groups(esxmm_kobj, esxmm_groups);
put_root:
	kobject_put(esxmm_kobj);
	return err;
}

/**
 * esxmm_sysfs_exit() - Remove what esxmm_sysfs_init() made; no vm is left.
 */
void esxmm_sysfs_exit(void)
{
	sysfs_remove_group(swap_kobj, &swap_group);
	kobject_put(swap_kobj);
	sysfs_remove_group(sample_kobj, &sample_group);
	kobject_put(sample_kobj);
	sysfs_remove_groups(share_kobj, share_groups);
	kobject_put(share_kobj);
	kobject_put(vms_kobj);
	sysfs_remove_groups(esxmm_kobj, esxmm_groups);
	kobject_put(esxmm_kobj);
	ida_destroy(&vm_ida);
}
