package dag_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lxcplan/lxcplan/engine/dag"
)

func ExampleGraph_Validate() {
	g := dag.New[string]()
	g.DependsOn("app", "db")
	g.DependsOn("db", "app")
	fmt.Println(g.Validate())
	// Output: dependency cycle: app -> db -> app
}

func ExampleGraph_TopoOrder() {
	g := dag.New[string]()
	g.DependsOn("web", "app")
	g.DependsOn("app", "db")
	g.AddNode("cache")
	order, _ := g.TopoOrder()
	fmt.Println(order)
	destroy, _ := g.Reverse().TopoOrder()
	fmt.Println(destroy)
	// Output:
	// [cache db app web]
	// [cache web app db]
}

// Walk with a global limit and a per-host limit. Limit 1 makes the output
// order deterministic: ready nodes start longest-chain-first, then by key,
// so app (web waits on it) goes before cache.
func ExampleGraph_Walk() {
	g := dag.New[string]()
	g.DependsOn("app", "db")
	g.DependsOn("web", "app")
	g.AddNode("cache")
	host := map[string]string{"db": "pve1", "app": "pve2", "web": "pve2", "cache": "pve1"}
	res := g.Walk(context.Background(), dag.WalkOptions[string]{
		Limit:      1,
		Group:      func(k string) string { return host[k] },
		GroupLimit: 4,
	}, func(ctx context.Context, k string) error {
		fmt.Println("apply", k, "on", host[k])
		return nil
	})
	fmt.Println("failures:", len(res))
	// Output:
	// apply db on pve1
	// apply app on pve2
	// apply cache on pve1
	// apply web on pve2
	// failures: 0
}

// A failure is reported once; its dependents are skipped, not failed.
func ExampleGraph_Walk_failure() {
	g := dag.New[string]()
	g.DependsOn("app", "db")
	g.DependsOn("web", "app")
	res := g.Walk(context.Background(), dag.WalkOptions[string]{}, func(ctx context.Context, k string) error {
		if k == "db" {
			return errors.New("pct create 210 on pve2: storage full")
		}
		return nil
	})
	for _, k := range []string{"db", "app", "web"} {
		fmt.Printf("%s: %v (skipped: %v)\n", k, res[k], errors.Is(res[k], dag.ErrSkipped))
	}
	fmt.Println(dag.Err(res))
	// Output:
	// db: pct create 210 on pve2: storage full (skipped: false)
	// app: skipped: dependency db failed (skipped: true)
	// web: skipped: dependency db failed (skipped: true)
	// db: pct create 210 on pve2: storage full
}

// depends_on conditions: app may start once db has started, web only when
// db is healthy.
func ExampleGraph_WalkMilestones() {
	g := dag.New[string]()
	g.DependsOnWith("app", "db", "started")
	g.DependsOnWith("web", "db", "healthy")
	var mu sync.Mutex
	appRan := make(chan struct{})
	say := func(s string) { mu.Lock(); fmt.Println(s); mu.Unlock() }
	g.WalkMilestones(context.Background(), dag.WalkOptions[string]{Milestones: []string{"started", "healthy"}},
		func(ctx context.Context, k string, signal func(string)) error {
			switch k {
			case "db":
				say("db started")
				signal("started")
				<-appRan // db's health check is still running while app starts
				say("db healthy")
				signal("healthy")
			case "app":
				say("app")
				close(appRan)
			case "web":
				say("web")
			}
			return nil
		})
	// Output:
	// db started
	// app
	// db healthy
	// web
}
