package plan

import (
	"fmt"
	"strings"

	"github.com/lxcplan/lxcplan/engine/model"
)

// describeSteps lists steps[from:] in words. Scripts and file contents are
// never shown: they may expand secrets at apply, and a plan only needs to
// say what will run.
func describeSteps(phase string, steps []model.Step, from int) []Step {
	var out []Step
	for i := from; i < len(steps); i++ {
		out = append(out, Step{Phase: phase, Index: i, Kind: string(steps[i].Kind), Description: DescribeStep(steps[i])})
	}
	return out
}

// DescribeStep says what a recipe step does, in one line.
func DescribeStep(s model.Step) string {
	switch s.Kind {
	case model.StepApt:
		return "install packages " + strings.Join(s.Packages, ", ")
	case model.StepAptUpgrade:
		if len(s.Packages) == 0 {
			return "upgrade all packages"
		}
		return "upgrade packages " + strings.Join(s.Packages, ", ")
	case model.StepAptRepo:
		if r := s.AptRepo; r != nil {
			return fmt.Sprintf("add apt repository %s (%s %s)", r.Name, r.URI, r.Suite)
		}
	case model.StepFile:
		if f := s.File; f != nil {
			if f.Source != "" {
				return fmt.Sprintf("write %s from %s", f.Path, f.Source)
			}
			return "write " + f.Path
		}
	case model.StepUser:
		if u := s.User; u != nil {
			return "create user " + u.Name
		}
	case model.StepDownload:
		if d := s.Download; d != nil {
			verb := "download"
			if d.Extract {
				verb = "download and extract"
			}
			return fmt.Sprintf("%s %s to %s", verb, d.URL, d.Dest)
		}
	case model.StepRun:
		if r := s.Run; r != nil {
			w := "run a script"
			if r.Cwd != "" {
				w += " in " + r.Cwd
			}
			if r.User != "" {
				w += " as " + r.User
			}
			if r.Creates != "" {
				w += " (unless " + r.Creates + " exists)"
			}
			return w
		}
	case model.StepService:
		if v := s.Service; v != nil {
			var parts []string
			if v.Unit != nil {
				parts = append(parts, "write unit")
			}
			if v.Enable != nil {
				if *v.Enable {
					parts = append(parts, "enable")
				} else {
					parts = append(parts, "disable")
				}
			}
			if v.State != "" {
				parts = append(parts, v.State)
			}
			if len(parts) == 0 {
				return "service " + v.Name
			}
			return "service " + v.Name + ": " + strings.Join(parts, ", ")
		}
	}
	return string(s.Kind)
}
