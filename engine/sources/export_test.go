package sources

// Fixture helpers for the external tests (integration_test.go), which load
// stacks through engine/manifest and so cannot live in this package.
var (
	IsolateGit  = isolateGit
	GitIn       = gitIn
	NewOrigin   = newOrigin
	WriteRecipe = writeRecipe
	CommitAll   = commitAll
)
