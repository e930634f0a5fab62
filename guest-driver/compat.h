/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels the balloon driver builds for (6.1 and
 * later). Kbuild defines ESXMM_COMPAT_<x>_<y> when building for kernel x.y
 * or later, one macro per version that changed an interface we use. Only
 * the 6.1 side of each is built and tested here (Debian's 6.1 headers);
 * the other side follows the upstream change named next to it.
 */
#ifndef ESXMM_BALLOON_COMPAT_H
#define ESXMM_BALLOON_COMPAT_H

#include <linux/virtio_config.h>

/* ESXMM_COMPAT_6_11: virtio_find_vqs() takes one struct virtqueue_info per queue. */

/**
 * esxmm_find_vqs() - virtio_find_vqs() with separate callback and name arrays.
 * @vdev: the device.
 * @nvqs: queues to find.
 * @vqs: where to store them.
 * @callbacks: one per queue.
 * @names: one per queue.
 *
 * Return: 0 or a negative errno.
 */
static inline int esxmm_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
				 struct virtqueue *vqs[],
				 vq_callback_t *callbacks[],
				 const char * const names[])
{
#ifdef ESXMM_COMPAT_6_11
	struct virtqueue_info info[8] = {};
	unsigned int i;

	if (nvqs > ARRAY_SIZE(info))
		return -EINVAL;
	for (i = 0; i < nvqs; i++) {
		info[i].name = names[i];
		info[i].callback = callbacks[i];
	}
	return virtio_find_vqs(vdev, nvqs, vqs, info, NULL);
#else
	return virtio_find_vqs(vdev, nvqs, vqs, callbacks, names, NULL);
#endif
}

#endif /* ESXMM_BALLOON_COMPAT_H */
