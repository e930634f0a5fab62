/* SPDX-License-Identifier: GPL-2.0 */
/*
 * esxmm: objects shared by the module's parts. A guest ("vm") is one
 * regular file of an esxmm filesystem; its RAM is the file's pages, held in
 * the file's pmap (shadow/pmap.h) and charged to the machine pool (pool.h).
 */
#ifndef ESXMM_H
#define ESXMM_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/mutex.h>

#include "pool.h"
#include "reclaim/policy.h"
#include "shadow/pmap.h"

#define ESXMM_MAGIC	0x45584d4d	/* "EXMM" */

/**
 * struct esxmm_vm - one guest: a regular file of an esxmm filesystem.
 * @kobj: /sys/kernel/esxmm/vms/<id>/; its release frees the vm.
 * @id: the directory's name; unique while the vm lives.
 * @inode: the file. Set at creation, valid until esxmm_vm_destroy(), which
 *	removes the sysfs directory (draining readers) before the inode goes.
 * @node: entry in the list of all vms (esxmm_vms_lock).
 * @pmap: PPN -> backing page.
 * @resident: PPNs backed by machine memory (PRIVATE and SHARED entries).
 * @shared: PPNs that map a shared frame.
 * @faults: ->fault calls on the file's mappings.
 * @swapped: PPNs whose page is in a swap slot.
 * @blocked_faults: faults that waited for reclaim to make room (the pool
 *	full, or the low state with the guest above its target).
 * @ballooned: PPNs the guest gave back (a hole punched while mapped: what
 *	QEMU does for a balloon inflate).
 * @balloon_violations: touches of ballooned PPNs (each got a zeroed page).
 * @balloon_target: pages its balloon should hold, from the last balance
 *	(READ_ONCE; sysfs_notify() on balloon_target_pages when it changes).
 * @share_group: 0: shares only within itself; else with guests of the same
 *	group. Written under esxmm_vms_lock, read with READ_ONCE().
 * @scan_pos: the share scanner's place in its current pass over the guest:
 *	PPNs are visited in the order pos, pos + stride, ... (mod size), a
 *	permutation that is new each pass. Scanner only (esxmm_vms_lock).
 * @scan_stride: see @scan_pos; coprime with @scan_size.
 * @scan_left: visits left in the pass.
 * @scan_size: the guest's size when the pass began.
 * @shares: its shares; 0: the default, 10 per MiB of size.
 * @min_pages: pages reserved for it (admission control).
 * @target: pages it may keep, from the last balance (READ_ONCE).
 * @est: its working-set estimator (the sampler thread writes it).
 * @sample_n: pages sampled in the current period.
 * @sample_touched: of those, touched so far.
 *
 * @shares and @min_pages are written under esxmm_vms_lock.
 */
struct esxmm_vm {
	struct kobject kobj;
	unsigned int id;
	struct inode *inode;
	struct list_head node;
	struct esxmm_pmap pmap;
	atomic_long_t resident;
	atomic_long_t shared;
	atomic_long_t faults;
	atomic_long_t swapped;
	atomic_long_t blocked_faults;
	atomic_long_t ballooned;
	atomic_long_t balloon_violations;
	unsigned long balloon_target;
	u32 share_group;
	unsigned long scan_pos;
	unsigned long scan_stride;
	unsigned long scan_left;
	unsigned long scan_size;
	u64 shares;
	unsigned long min_pages;
	unsigned long target;
	struct esxmm_estimator est;
	unsigned long sample_n;
	atomic_long_t sample_touched;
};

/* The machine pool, one per host. */
extern struct esxmm_pool esxmm_pool;

/*
 * esxmm_vms_lock protects esxmm_vms (the list of live vms) and the vms'
 * policy inputs (shares, min_pages). Order: mmap_lock (mmap's admission
 * check) -> esxmm_vms_lock -> page locks -> i_mmap_rwsem -> xa_lock and the
 * frame table lock. The scanner and the sampler hold it for a batch.
 */
extern struct mutex esxmm_vms_lock;
extern struct list_head esxmm_vms;

/* vm.c */
struct esxmm_vm *esxmm_vm_create(struct inode *inode);
void esxmm_vm_destroy(struct esxmm_vm *vm);
unsigned long esxmm_vm_count(void);

static inline struct esxmm_vm *esxmm_vm_of(struct inode *inode)
{
	return inode->i_private;
}

/* shadow/fault.c: the only code that touches page tables. */
extern const struct vm_operations_struct esxmm_vm_ops;
struct page *esxmm_shadow_get_page(struct esxmm_vm *vm, pgoff_t ppn, bool write, int *errp);
int esxmm_shadow_unshare(struct esxmm_vm *vm, pgoff_t ppn);
int esxmm_shadow_swap_in(struct esxmm_vm *vm, pgoff_t ppn);
void esxmm_shadow_free_range(struct esxmm_vm *vm, pgoff_t start, pgoff_t end);
void esxmm_shadow_mark_ballooned(struct esxmm_vm *vm, pgoff_t start, pgoff_t end);
void esxmm_shadow_invalidate(struct esxmm_vm *vm, pgoff_t ppn, pgoff_t nr);
int esxmm_shadow_zero_range(struct esxmm_vm *vm, loff_t start, loff_t end);

struct esxmm_vm *esxmm_vm_find(unsigned int id);

/* fs.c */
int esxmm_fs_init(void);
void esxmm_fs_exit(void);

/* sysfs.c */
int esxmm_sysfs_init(void);
void esxmm_sysfs_exit(void);
int esxmm_sysfs_add_vm(struct esxmm_vm *vm);
extern const struct kobj_type esxmm_vm_ktype;

#endif /* ESXMM_H */
