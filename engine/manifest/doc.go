// Package manifest loads lxcplan's input files: recipes, stacks, the .env
// beside a stack and the user defaults file. It is the only package that
// reads YAML.
//
// Loading runs in stages, and every stage accumulates diagnostics instead of
// stopping, so one run reports every problem, sorted by position:
//
//  1. read the file safely (size limit, UTF-8, one document, no alias bombs);
//  2. interpolate ${VAR} in stack strings (Compose syntax), re-typing plain
//     scalars so `vmid: ${ID}` is a number;
//  3. convert the yaml.Node tree to plain values, remembering the node at
//     every path, and validate them against the JSON Schema; violations are
//     mapped back to file:line:col (unknown keys at the key, missing fields
//     at the mapping that lacks them);
//  4. decode into engine/model types, load the recipes a stack uses, and run
//     the checks no schema can express (references, cycles, duplicates,
//     subnets, hosts);
//  5. resolve every container through the precedence chain, recording the
//     layer and position each value came from.
package manifest
