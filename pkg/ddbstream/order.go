package ddbstream

import (
	"container/heap"
	"sync"
)

// batchItem is a record to process: its index in the batch and the key
// that orders it. Items with the same non-empty key run one at a time, in
// index order; an empty key orders nothing.
type batchItem struct {
	index int
	key   string
}

// runOrdered calls do for each item, at most limit calls at once (at least
// one), and returns the lowest index for which do reported failure, or -1.
//
// Whenever a call can start, the item with the lowest index among the keys
// not in flight goes first, so with limit 1 the items run in index order.
// After a failure, no item of its key runs, nor any item with a higher
// index than the lowest failure: those are retried anyway. Items with a
// lower index still run, since nothing reports them.
func runOrdered(items []batchItem, limit int, do func(index int) (ok bool)) int {
	var ready chains
	byKey := map[string]*chain{}
	for _, it := range items {
		c := byKey[it.key]
		if c == nil || it.key == "" {
			c = &chain{}
			ready = append(ready, c)
			if it.key != "" {
				byKey[it.key] = c
			}
		}
		c.indexes = append(c.indexes, it.index)
	}
	heap.Init(&ready)
	workers := min(max(limit, 1), len(ready))

	var (
		mu       sync.Mutex
		wake     = sync.NewCond(&mu)
		running  int
		failedAt = -1
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			mu.Lock()
			defer mu.Unlock()
			for {
				if failedAt >= 0 && len(ready) > 0 && ready[0].head() > failedAt {
					ready = ready[:0] // every chain waits on a later record
				}
				if len(ready) == 0 {
					if running == 0 {
						wake.Broadcast()
						return
					}
					wake.Wait()
					continue
				}
				c := heap.Pop(&ready).(*chain)
				index := c.head()
				running++
				mu.Unlock()
				ok := do(index)
				mu.Lock()
				running--
				switch {
				case !ok:
					if failedAt < 0 || index < failedAt {
						failedAt = index
					}
				case len(c.indexes) > 1:
					c.indexes = c.indexes[1:]
					heap.Push(&ready, c)
				}
				wake.Broadcast()
			}
		})
	}
	wg.Wait()
	return failedAt
}

// chain is the items of one key still to run, in index order.
type chain struct{ indexes []int }

func (c *chain) head() int { return c.indexes[0] }

// chains is a min-heap of chains by their next index.
type chains []*chain

func (h chains) Len() int           { return len(h) }
func (h chains) Less(i, j int) bool { return h[i].head() < h[j].head() }
func (h chains) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *chains) Push(x any)        { *h = append(*h, x.(*chain)) }
func (h *chains) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
