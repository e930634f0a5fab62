// SPDX-License-Identifier: GPL-2.0
/*
 * Per-guest objects. A vm is born with its file (create on an esxmm mount)
 * and dies with its inode (evict: the last name, descriptor and mapping are
 * gone), so an unlinked guest's memory lives exactly as long as something
 * can still reach it.
 */
#include <linux/slab.h>

#include "esxmm.h"
#include "reclaim/reclaim.h"
#include "share/share.h"

DEFINE_MUTEX(esxmm_vms_lock);
LIST_HEAD(esxmm_vms);
static unsigned long nr_vms;	/* esxmm_vms_lock */

/**
 * esxmm_vm_create() - Make the vm of a new regular file.
 * @inode: the file's inode, not yet visible to anyone.
 *
 * Return: the vm, also stored in @inode->i_private, or an ERR_PTR.
 */
struct esxmm_vm *esxmm_vm_create(struct inode *inode)
{
	struct esxmm_vm *vm;
	int err;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return ERR_PTR(-ENOMEM);
	vm->inode = inode;
	INIT_LIST_HEAD(&vm->node);
	esxmm_pmap_init(&vm->pmap);
	atomic_long_set(&vm->resident, 0);
	atomic_long_set(&vm->shared, 0);
	atomic_long_set(&vm->faults, 0);
	atomic_long_set(&vm->swapped, 0);
	atomic_long_set(&vm->blocked_faults, 0);
	atomic_long_set(&vm->ballooned, 0);
	atomic_long_set(&vm->balloon_violations, 0);
	esxmm_reclaim_vm_init(vm);

	err = esxmm_sysfs_add_vm(vm);	/* on error the kobject is released */
	if (err)
		return ERR_PTR(err);

	inode->i_private = vm;
	mutex_lock(&esxmm_vms_lock);
	list_add_tail(&vm->node, &esxmm_vms);
	nr_vms++;
	mutex_unlock(&esxmm_vms_lock);
	esxmm_reclaim_kick();
	return vm;
}

/**
 * esxmm_vm_destroy() - Free a vm whose inode is being evicted.
 * @vm: the vm; nothing maps or opens its file any more.
 *
 * Removes the sysfs directory first (kernfs waits for readers in flight),
 * then frees every page and drops the last reference.
 */
void esxmm_vm_destroy(struct esxmm_vm *vm)
{
	mutex_lock(&esxmm_vms_lock);
	list_del_init(&vm->node);
	nr_vms--;
	mutex_unlock(&esxmm_vms_lock);

	kobject_del(&vm->kobj);
	esxmm_shadow_free_range(vm, 0, ULONG_MAX);
	esxmm_share_forget_vm(vm);
	esxmm_reclaim_kick();
	WARN_ON_ONCE(atomic_long_read(&vm->resident));
	WARN_ON_ONCE(atomic_long_read(&vm->swapped));
	WARN_ON_ONCE(atomic_long_read(&vm->ballooned));
	vm->inode->i_private = NULL;
	vm->inode = NULL;
	kobject_put(&vm->kobj);
}

/**
 * esxmm_vm_count() - Number of live vms.
 *
 * Return: the count.
 */
unsigned long esxmm_vm_count(void)
{
	unsigned long n;

	mutex_lock(&esxmm_vms_lock);
	n = nr_vms;
	mutex_unlock(&esxmm_vms_lock);
	return n;
}

/**
 * esxmm_vm_find() - The live vm with a given id.
 * @id: the id.
 *
 * The caller holds esxmm_vms_lock, which keeps the vm alive.
 *
 * Return: the vm or NULL.
 */
struct esxmm_vm *esxmm_vm_find(unsigned int id)
{
	struct esxmm_vm *vm;

	lockdep_assert_held(&esxmm_vms_lock);
	list_for_each_entry(vm, &esxmm_vms, node)
		if (vm->id == id)
			return vm;
	return NULL;
}
