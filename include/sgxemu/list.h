/*
 * list.h: the intrusive doubly linked list the EPC code threads its pages
 * and objects on (free lists, poison lists, the reclaimer's LRU).
 *
 * A list head is a struct list_head whose next and prev point at itself
 * when the list is empty.  An element embeds a struct list_head and is
 * reached from it with list_entry().  Nothing here locks: whoever owns the
 * list says which lock guards it, next to the list.
 */
#ifndef SGXEMU_EPC_LIST_H
#define SGXEMU_EPC_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_head {
	struct list_head *next;
	struct list_head *prev;
};

#define LIST_HEAD_INIT(name) { &(name), &(name) }

static inline void list_init(struct list_head *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool list_empty(const struct list_head *head)
{
	return head->next == head;
}

static inline void list_insert_between(struct list_head *item, struct list_head *prev,
				       struct list_head *next)
{
	next->prev = item;
	item->next = next;
	item->prev = prev;
	prev->next = item;
}

/* Adds item right after head (a stack push). */
static inline void list_add(struct list_head *item, struct list_head *head)
{
	list_insert_between(item, head, head->next);
}

/* Adds item right before head, at the tail (a queue push). */
static inline void list_add_tail(struct list_head *item, struct list_head *head)
{
	list_insert_between(item, head->prev, head);
}

/* Unlinks item and leaves it pointing at itself, so list_empty(item) is
 * true and a second list_del() is harmless. */
static inline void list_del(struct list_head *item)
{
	item->next->prev = item->prev;
	item->prev->next = item->next;
	list_init(item);
}

static inline void list_move(struct list_head *item, struct list_head *head)
{
	list_del(item);
	list_add(item, head);
}

static inline void list_move_tail(struct list_head *item, struct list_head *head)
{
	list_del(item);
	list_add_tail(item, head);
}

/* Moves every element of from to the tail of to; from ends empty. */
static inline void list_splice_tail_init(struct list_head *from, struct list_head *to)
{
	if (list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	list_init(from);
}

#define list_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define list_first_entry(head, type, member) list_entry((head)->next, type, member)

#define list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* Safe against removal of pos: tmp holds the next element. */
#define list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

#define list_for_each_entry(pos, head, member)                                   \
	for ((pos) = list_entry((head)->next, __typeof__(*(pos)), member);        \
	     &(pos)->member != (head);                                           \
	     (pos) = list_entry((pos)->member.next, __typeof__(*(pos)), member))

#define list_for_each_entry_safe(pos, tmp, head, member)                         \
	for ((pos) = list_entry((head)->next, __typeof__(*(pos)), member),        \
	     (tmp) = list_entry((pos)->member.next, __typeof__(*(pos)), member);  \
	     &(pos)->member != (head);                                           \
	     (pos) = (tmp),                                                      \
	     (tmp) = list_entry((tmp)->member.next, __typeof__(*(pos)), member))

#endif /* SGXEMU_EPC_LIST_H */
