package ddbstream

import "sync"

// group is the records of one stream in a batch: the indexes of its
// records, in batch order.
type group struct {
	key     string
	indexes []int
}

// groupByKey groups the indexes of keys (in batch order) by key, each
// group in the order of its first record.
func groupByKey(keys map[int]string, order []int) []*group {
	byKey := map[string]*group{}
	var groups []*group
	for _, i := range order {
		g := byKey[keys[i]]
		if g == nil {
			g = &group{key: keys[i]}
			byKey[keys[i]] = g
			groups = append(groups, g)
		}
		g.indexes = append(g.indexes, i)
	}
	return groups
}

// runGroups calls do for each group, at most limit at once (at least one),
// earliest group first.
func runGroups(groups []*group, limit int, do func(g *group)) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for _, g := range groups {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			do(g)
		})
	}
	wg.Wait()
}
