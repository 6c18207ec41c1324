package schema

// invalidCases pins the exact violations for documents that break the
// schemas; TestSecondValidatorAgrees also runs them through v6 and ajv.
var invalidCases = []invalidCase{
	{
		name: "recipe-wrong-apiversion",
		kind: Recipe,
		src: `apiVersion: lxcplan/v2
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
`,
		want: []Violation{
			{Path: p("apiVersion"), Keyword: "const", Message: "must be \"lxcplan/v1\" (got \"lxcplan/v2\")"},
		},
	},
	{
		name: "recipe-kind-stack",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: r
version: 1.0.0
container: {os: debian, version: "12"}
`,
		want: []Violation{
			{Path: p("kind"), Keyword: "const", Message: "must be \"Recipe\" (got \"Stack\")"},
		},
	},
	{
		name: "recipe-missing-required",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
container: {os: debian}
`,
		want: []Violation{
			{Path: p(), Keyword: "required", Message: "missing required field \"name\""},
			{Path: p(), Keyword: "required", Message: "missing required field \"version\""},
			{Path: p("container"), Keyword: "required", Message: "missing required field \"version\""},
		},
	},
	{
		name: "recipe-name-uppercase",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: Redis
version: 1.0.0
container: {os: debian, version: "12"}
`,
		want: []Violation{
			{Path: p("name"), Keyword: "pattern", Message: "must be lowercase letters, digits and hyphens, starting with a letter or digit"},
		},
	},
	{
		name: "recipe-version-number",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.2
container: {os: debian, version: "12"}
`,
		want: []Violation{
			{Path: p("version"), Keyword: "type", Message: "must be a string; quote it, like \"1.2.0\""},
		},
	},
	{
		name: "recipe-version-not-semver",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.2.x
container: {os: debian, version: "12"}
`,
		want: []Violation{
			{Path: p("version"), Keyword: "pattern", Message: "must be a semantic version like 1.2.0, optionally with -pre or +build"},
		},
	},
	{
		name: "recipe-unknown-top-level",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
maintainers: [me]
instal: []
`,
		want: []Violation{
			{Path: p("instal"), Keyword: "additionalProperties", Message: "unknown field \"instal\"; did you mean \"install\"?"},
			{Path: p("maintainers"), Keyword: "additionalProperties", Message: "unknown field \"maintainers\""},
		},
	},
	{
		name: "recipe-container-version-number",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: 12}
`,
		want: []Violation{
			{Path: p("container", "version"), Keyword: "type", Message: "must be a string; quote it: \"12\""},
		},
	},
	{
		name: "recipe-container-typo",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12", memroy: 512}
`,
		want: []Violation{
			{Path: p("container", "memroy"), Keyword: "additionalProperties", Message: "unknown field \"memroy\"; did you mean \"memory\"?"},
		},
	},
	{
		name: "recipe-container-gpu-enum",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12", gpu: intell}
`,
		want: []Violation{
			{Path: p("container", "gpu"), Keyword: "enum", Message: "must be one of none, auto, intel, amd, nvidia (got \"intell\")"},
		},
	},
	{
		name: "recipe-container-ranges",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: Debian, version: "", cores: 0, memory: 8, swap: -1, disk: 0, arch: x86_64}
`,
		want: []Violation{
			{Path: p("container", "arch"), Keyword: "enum", Message: "must be one of amd64, arm64, i386, armhf (got \"x86_64\")"},
			{Path: p("container", "cores"), Keyword: "minimum", Message: "must be between 1 and 8192"},
			{Path: p("container", "disk"), Keyword: "exclusiveMinimum", Message: "must be greater than 0"},
			{Path: p("container", "memory"), Keyword: "minimum", Message: "must be at least 16"},
			{Path: p("container", "os"), Keyword: "pattern", Message: "must be a lowercase distribution name like debian, ubuntu or alpine"},
			{Path: p("container", "swap"), Keyword: "minimum", Message: "must be at least 0"},
			{Path: p("container", "version"), Keyword: "minLength", Message: "must not be empty"},
		},
	},
	{
		name: "recipe-container-types",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12", cores: "2", swap: lots, memory: 512.5, unprivileged: "yes", ports: 80, tags: [Media]}
`,
		want: []Violation{
			{Path: p("container", "cores"), Keyword: "type", Message: "must be an integer, not the string \"2\"; remove the quotes"},
			{Path: p("container", "memory"), Keyword: "type", Message: "must be an integer, not 512.5"},
			{Path: p("container", "ports"), Keyword: "type", Message: "must be a list, not a number"},
			{Path: p("container", "swap"), Keyword: "type", Message: "must be an integer, not a string"},
			{Path: p("container", "tags", "0"), Keyword: "pattern", Message: "must be a tag: lowercase letters, digits and _ + . -, not starting with +, . or -"},
			{Path: p("container", "unprivileged"), Keyword: "type", Message: "must be true or false, not the string \"yes\""},
		},
	},
	{
		name: "recipe-container-features",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12", features: {nesting: 1, mount: ["nfs;cifs"], keyctl: true, fuse: true, mknod: true, nest: true}, ports: [0, 65536]}
`,
		want: []Violation{
			{Path: p("container", "features", "mount", "0"), Keyword: "pattern", Message: "must be a file system type: letters, digits and underscores"},
			{Path: p("container", "features", "nest"), Keyword: "additionalProperties", Message: "unknown field \"nest\""},
			{Path: p("container", "features", "nesting"), Keyword: "type", Message: "must be true or false, not a number"},
			{Path: p("container", "ports", "0"), Keyword: "minimum", Message: "must be between 1 and 65535"},
			{Path: p("container", "ports", "1"), Keyword: "maximum", Message: "must be between 1 and 65535"},
		},
	},
	{
		name: "recipe-container-misplaced",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12", nesting: true, resources: {}}
`,
		want: []Violation{
			{Path: p("container", "nesting"), Keyword: "additionalProperties", Message: "field \"nesting\" is not allowed here; it belongs under \"features\""},
			{Path: p("container", "resources"), Keyword: "additionalProperties", Message: "unknown field \"resources\""},
		},
	},
	{
		name: "recipe-params",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
params:
  Bad: {type: string}
  a: {type: integer}
  b: {description: x}
  c: {type: string, values: [x]}
  d: {type: secret, default: x}
  e: {type: enum}
  f: {type: int, default: "5", pattern: x}
  g: {type: bool, default: 1}
  h: {type: secret, generate: {length: 4, charset: base64}}
  i: {type: string, generate: {length: 8}}
`,
		want: []Violation{
			{Path: p("params", "Bad"), Keyword: "propertyNames", Message: "invalid name \"Bad\": must be lowercase letters, digits and underscores, starting with a letter"},
			{Path: p("params", "a", "type"), Keyword: "enum", Message: "must be one of string, int, bool, enum, secret (got \"integer\")"},
			{Path: p("params", "b"), Keyword: "required", Message: "missing required field \"type\""},
			{Path: p("params", "c", "values"), Keyword: "additionalProperties", Message: "field \"values\" is not allowed in a string param"},
			{Path: p("params", "d", "default"), Keyword: "additionalProperties", Message: "field \"default\" is not allowed in a secret param"},
			{Path: p("params", "e"), Keyword: "required", Message: "missing required field \"values\""},
			{Path: p("params", "f", "default"), Keyword: "type", Message: "must be an integer, not the string \"5\"; remove the quotes"},
			{Path: p("params", "f", "pattern"), Keyword: "additionalProperties", Message: "field \"pattern\" is not allowed in an int param"},
			{Path: p("params", "g", "default"), Keyword: "type", Message: "must be true or false, not a number"},
			{Path: p("params", "h", "generate", "charset"), Keyword: "enum", Message: "must be one of alnum, hex, alpha, ascii (got \"base64\")"},
			{Path: p("params", "h", "generate", "length"), Keyword: "minimum", Message: "must be between 8 and 256"},
			{Path: p("params", "i", "generate"), Keyword: "additionalProperties", Message: "field \"generate\" is not allowed in a string param"},
		},
	},
	{
		name: "recipe-install-step-shapes",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
install:
  - {}
  - apt: [curl]
    file: {path: /x, content: y}
  - aptt: [x]
  - apt_upgrade: []
  - apt
  - apt: []
`,
		want: []Violation{
			{Path: p("install", "0"), Keyword: "minProperties", Message: "must have exactly one key naming the step kind: apt, apt_repo, file, user, download, run or service"},
			{Path: p("install", "1"), Keyword: "maxProperties", Message: "must have exactly one key naming its kind, found 2: apt, file"},
			{Path: p("install", "2", "aptt"), Keyword: "additionalProperties", Message: "unknown field \"aptt\"; did you mean \"apt\"?"},
			{Path: p("install", "3", "apt_upgrade"), Keyword: "additionalProperties", Message: "field \"apt_upgrade\" is not allowed in an install step"},
			{Path: p("install", "4"), Keyword: "type", Message: "must be a map, not a string"},
			{Path: p("install", "5", "apt"), Keyword: "minItems", Message: "must not be empty"},
		},
	},
	{
		name: "recipe-install-apt",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
install:
  - apt: [Curl, "a b", -x]
  - apt: curl
`,
		want: []Violation{
			{Path: p("install", "0", "apt", "0"), Keyword: "pattern", Message: "must be a package name: lowercase letters, digits and + . -, starting with a letter or digit"},
			{Path: p("install", "0", "apt", "1"), Keyword: "pattern", Message: "must be a package name: lowercase letters, digits and + . -, starting with a letter or digit"},
			{Path: p("install", "0", "apt", "2"), Keyword: "pattern", Message: "must be a package name: lowercase letters, digits and + . -, starting with a letter or digit"},
			{Path: p("install", "1", "apt"), Keyword: "type", Message: "must be a list, not a string"},
		},
	},
	{
		name: "recipe-install-apt-repo",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
install:
  - apt_repo: {name: ../x, key_url: "ftp://x", components: main}
`,
		want: []Violation{
			{Path: p("install", "0", "apt_repo"), Keyword: "required", Message: "missing required field \"suite\""},
			{Path: p("install", "0", "apt_repo"), Keyword: "required", Message: "missing required field \"uri\""},
			{Path: p("install", "0", "apt_repo", "components"), Keyword: "type", Message: "must be a list, not a string"},
			{Path: p("install", "0", "apt_repo", "key_url"), Keyword: "pattern", Message: "must be an http:// or https:// URL"},
			{Path: p("install", "0", "apt_repo", "name"), Keyword: "pattern", Message: "must be letters, digits and _ . -, starting with a letter or digit"},
		},
	},
	{
		name: "recipe-install-file",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
install:
  - file: {path: etc/x, content: a, source: b}
  - file: {path: /x}
  - file: {path: /x, source: ../secret}
  - file: {path: /x, source: /etc/passwd}
  - file: {path: /x, source: a/../../b}
  - file: {path: /x, content: y, mode: 0644}
  - file: {path: /x, content: y, mode: "rw-r--r--"}
`,
		want: []Violation{
			{Path: p("install", "0", "file"), Keyword: "oneOf", Message: "must have exactly one of content or source"},
			{Path: p("install", "0", "file", "path"), Keyword: "pattern", Message: "must be an absolute path (starting with /)"},
			{Path: p("install", "1", "file"), Keyword: "oneOf", Message: "must have exactly one of content or source"},
			{Path: p("install", "2", "file", "source"), Keyword: "pattern", Message: "must be a path relative to the recipe folder: not absolute and without \"..\" segments"},
			{Path: p("install", "3", "file", "source"), Keyword: "pattern", Message: "must be a path relative to the recipe folder: not absolute and without \"..\" segments"},
			{Path: p("install", "4", "file", "source"), Keyword: "pattern", Message: "must be a path relative to the recipe folder: not absolute and without \"..\" segments"},
			{Path: p("install", "5", "file", "mode"), Keyword: "type", Message: "must be a string; quote it, like \"0644\""},
			{Path: p("install", "6", "file", "mode"), Keyword: "pattern", Message: "must be an octal file mode like \"0644\""},
		},
	},
	{
		name: "recipe-install-user-download",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
install:
  - user: {name: App, system: "yes", home: opt}
  - download: {url: "ftp://x/y", sha256: abc, dest: /opt/x, extract: 1}
  - download: {url: "https://x/y"}
`,
		want: []Violation{
			{Path: p("install", "0", "user", "home"), Keyword: "pattern", Message: "must be an absolute path (starting with /)"},
			{Path: p("install", "0", "user", "name"), Keyword: "pattern", Message: "must be a user name: lowercase letters, digits, _ . -, starting with a letter or _"},
			{Path: p("install", "0", "user", "system"), Keyword: "type", Message: "must be true or false, not the string \"yes\""},
			{Path: p("install", "1", "download", "extract"), Keyword: "type", Message: "must be true or false, not a number"},
			{Path: p("install", "1", "download", "sha256"), Keyword: "pattern", Message: "must be a SHA-256 checksum: 64 hexadecimal digits"},
			{Path: p("install", "1", "download", "url"), Keyword: "pattern", Message: "must be an http:// or https:// URL"},
			{Path: p("install", "2", "download"), Keyword: "required", Message: "missing required field \"dest\""},
			{Path: p("install", "2", "download"), Keyword: "required", Message: "missing required field \"sha256\""},
		},
	},
	{
		name: "recipe-install-run",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
install:
  - run: 5
  - run: [a, b]
  - run: {scrpt: x}
  - run: {script: x, cwd: tmp, env: {1X: y, OK: 2}, timeout: 10 minutes}
`,
		want: []Violation{
			{Path: p("install", "0", "run"), Keyword: "oneOf", Message: "must be a script (a string) or a map with script and optional cwd, env, user, creates, timeout"},
			{Path: p("install", "1", "run"), Keyword: "oneOf", Message: "must be a script (a string) or a map with script and optional cwd, env, user, creates, timeout"},
			{Path: p("install", "2", "run"), Keyword: "required", Message: "missing required field \"script\""},
			{Path: p("install", "2", "run", "scrpt"), Keyword: "additionalProperties", Message: "unknown field \"scrpt\"; did you mean \"script\"?"},
			{Path: p("install", "3", "run", "cwd"), Keyword: "pattern", Message: "must be an absolute path (starting with /)"},
			{Path: p("install", "3", "run", "env", "1X"), Keyword: "propertyNames", Message: "invalid name \"1X\": must be an environment variable name: letters, digits and underscores, not starting with a digit"},
			{Path: p("install", "3", "run", "env", "OK"), Keyword: "type", Message: "must be a string; quote it: \"2\""},
			{Path: p("install", "3", "run", "timeout"), Keyword: "pattern", Message: "must be a duration like 90s, 10m or 1h30m"},
		},
	},
	{
		name: "recipe-install-service",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
install:
  - service: {enable: yes, state: running, unit: 5}
`,
		want: []Violation{
			{Path: p("install", "0", "service"), Keyword: "required", Message: "missing required field \"name\""},
			{Path: p("install", "0", "service", "enable"), Keyword: "type", Message: "must be true or false, not the string \"yes\""},
			{Path: p("install", "0", "service", "state"), Keyword: "enum", Message: "must be one of started, stopped, restarted, reloaded (got \"running\")"},
			{Path: p("install", "0", "service", "unit"), Keyword: "type", Message: "must be a string or null, not a number"},
		},
	},
	{
		name: "recipe-health-none",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
health: {interval: 2s}
`,
		want: []Violation{
			{Path: p("health"), Keyword: "oneOf", Message: "must have exactly one probe: tcp, http or cmd"},
		},
	},
	{
		name: "recipe-health-two",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
health: {tcp: 80, cmd: "true"}
`,
		want: []Violation{
			{Path: p("health"), Keyword: "oneOf", Message: "must have exactly one probe: tcp, http or cmd"},
		},
	},
	{
		name: "recipe-health-fields",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
health: {http: {path: healthz, status: 600, method: GET}, interval: 2 s, timeout: 5}
`,
		want: []Violation{
			{Path: p("health", "http"), Keyword: "required", Message: "missing required field \"port\""},
			{Path: p("health", "http", "method"), Keyword: "additionalProperties", Message: "unknown field \"method\""},
			{Path: p("health", "http", "path"), Keyword: "pattern", Message: "must be an absolute path (starting with /)"},
			{Path: p("health", "http", "status"), Keyword: "maximum", Message: "must be between 100 and 599"},
			{Path: p("health", "interval"), Keyword: "pattern", Message: "must be a duration like 90s, 10m or 1h30m"},
			{Path: p("health", "timeout"), Keyword: "type", Message: "must be a string; quote it, like \"10m\""},
		},
	},
	{
		name: "recipe-update-outputs",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
update:
  - apt_upgrade: [Bad]
  - apt_upgrade: all
outputs: {url: 5, bad-name: x}
`,
		want: []Violation{
			{Path: p("outputs", "bad-name"), Keyword: "propertyNames", Message: "invalid name \"bad-name\": must be letters, digits and underscores, not starting with a digit"},
			{Path: p("outputs", "url"), Keyword: "type", Message: "must be a string; quote it: \"5\""},
			{Path: p("update", "0", "apt_upgrade", "0"), Keyword: "pattern", Message: "must be a package name: lowercase letters, digits and + . -, starting with a letter or digit"},
			{Path: p("update", "1", "apt_upgrade"), Keyword: "type", Message: "must be a list, not a string"},
		},
	},
	{
		name: "recipe-not-a-map",
		kind: Recipe,
		src: `- a
- b
`,
		want: []Violation{
			{Path: p(), Keyword: "type", Message: "must be a map, not a list"},
		},
	},
	{
		name: "stack-missing-required",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
`,
		want: []Violation{
			{Path: p(), Keyword: "required", Message: "missing required field \"containers\""},
			{Path: p(), Keyword: "required", Message: "missing required field \"name\""},
		},
	},
	{
		name: "stack-name-and-empty-containers",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: Media
containers: {}
`,
		want: []Violation{
			{Path: p("containers"), Keyword: "minProperties", Message: "must not be empty"},
			{Path: p("name"), Keyword: "pattern", Message: "must be lowercase letters, digits, hyphens and underscores, starting with a letter or digit"},
		},
	},
	{
		name: "stack-sources",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
sources:
  a: {git: x}
  b: {path: x, ref: y}
  c: {}
  d: {git: x, path: y, ref: z}
  e: ./dir
  f/g: {path: x}
containers: {a: {recipe: redis}}
`,
		want: []Violation{
			{Path: p("sources", "a"), Keyword: "required", Message: "missing required field \"ref\""},
			{Path: p("sources", "b", "ref"), Keyword: "additionalProperties", Message: "field \"ref\" is not allowed in a path source"},
			{Path: p("sources", "c"), Keyword: "oneOf", Message: "must be either a git source {git: URL, ref: REF} or a path source {path: DIR}"},
			{Path: p("sources", "d", "path"), Keyword: "additionalProperties", Message: "field \"path\" is not allowed in a git source"},
			{Path: p("sources", "e"), Keyword: "oneOf", Message: "must be either a git source {git: URL, ref: REF} or a path source {path: DIR}"},
			{Path: p("sources", "f/g"), Keyword: "propertyNames", Message: "invalid name \"f/g\": must be letters, digits, hyphens and underscores, starting with a letter or digit"},
		},
	},
	{
		name: "stack-hosts",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
hosts:
  h1: {user: root}
  h2: {local: false}
  h3: {address: x, port: 0, identity: ""}
  -bad: {local: true}
  h4: {adress: x}
containers: {a: {recipe: redis, host: "h 1"}}
`,
		want: []Violation{
			{Path: p("containers", "a", "host"), Keyword: "pattern", Message: "must name a host declared under hosts: letters, digits and _ . -, starting with a letter or digit"},
			{Path: p("hosts", "-bad"), Keyword: "propertyNames", Message: "invalid name \"-bad\": must be letters, digits and _ . -, starting with a letter or digit"},
			{Path: p("hosts", "h1"), Keyword: "anyOf", Message: "must have an address, or local: true when lxcplan runs on the node itself"},
			{Path: p("hosts", "h2"), Keyword: "anyOf", Message: "must have an address, or local: true when lxcplan runs on the node itself"},
			{Path: p("hosts", "h3", "identity"), Keyword: "minLength", Message: "must not be empty"},
			{Path: p("hosts", "h3", "port"), Keyword: "minimum", Message: "must be between 1 and 65535"},
			{Path: p("hosts", "h4"), Keyword: "anyOf", Message: "must have an address, or local: true when lxcplan runs on the node itself"},
			{Path: p("hosts", "h4", "adress"), Keyword: "additionalProperties", Message: "unknown field \"adress\"; did you mean \"address\"?"},
		},
	},
	{
		name: "stack-defaults",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
defaults: {recipe: x, vmid: 100, memory: 512, storage: Local, network: {bridge: vmbr0, vlan: 5000}}
containers: {a: {recipe: redis}}
`,
		want: []Violation{
			{Path: p("defaults", "memory"), Keyword: "additionalProperties", Message: "field \"memory\" is not allowed here; it belongs under \"resources\""},
			{Path: p("defaults", "network", "vlan"), Keyword: "maximum", Message: "must be between 1 and 4094"},
			{Path: p("defaults", "recipe"), Keyword: "additionalProperties", Message: "field \"recipe\" is not allowed in a defaults section"},
			{Path: p("defaults", "storage"), Keyword: "pattern", Message: "must be a Proxmox storage ID: lowercase letters, digits and . _ -, starting with a letter and ending with a letter or digit"},
			{Path: p("defaults", "vmid"), Keyword: "additionalProperties", Message: "field \"vmid\" is not allowed in a defaults section"},
		},
	},
	{
		name: "stack-container-names",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  Web_1: {recipe: redis}
  a: {}
  b: redis
`,
		want: []Violation{
			{Path: p("containers", "Web_1"), Keyword: "propertyNames", Message: "invalid name \"Web_1\": must be a container name: lowercase letters, digits and hyphens, starting with a letter or digit"},
			{Path: p("containers", "a"), Keyword: "required", Message: "missing required field \"recipe\""},
			{Path: p("containers", "b"), Keyword: "type", Message: "must be a map, not a string"},
		},
	},
	{
		name: "stack-container-recipe-refs",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a: {recipe: "Bad Ref"}
  b: {recipe: "community/redis@1.2"}
  c: {recipe: "recipes/x.yaml"}
  d: {recipe: 5}
`,
		want: []Violation{
			{Path: p("containers", "a", "recipe"), Keyword: "pattern", Message: "must be a recipe name (redis), SOURCE/NAME, SOURCE/NAME@VERSION, or a path starting with ./, ../ or /"},
			{Path: p("containers", "b", "recipe"), Keyword: "pattern", Message: "must be a recipe name (redis), SOURCE/NAME, SOURCE/NAME@VERSION, or a path starting with ./, ../ or /"},
			{Path: p("containers", "c", "recipe"), Keyword: "pattern", Message: "must be a recipe name (redis), SOURCE/NAME, SOURCE/NAME@VERSION, or a path starting with ./, ../ or /"},
			{Path: p("containers", "d", "recipe"), Keyword: "type", Message: "must be a string; quote it: \"5\""},
		},
	},
	{
		name: "stack-container-identity",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a: {recipe: redis, vmid: 50, hostname: -db, description: 5}
  b: {recipe: redis, vmid: 1000000000, hostname: a_b.lan}
  c: {recipe: redis, vmid: "210", hostname: "db-.lan"}
`,
		want: []Violation{
			{Path: p("containers", "a", "description"), Keyword: "type", Message: "must be a string; quote it: \"5\""},
			{Path: p("containers", "a", "hostname"), Keyword: "pattern", Message: "must be a DNS name: letters, digits and hyphens, labels separated by dots, no label starting or ending with \"-\""},
			{Path: p("containers", "a", "vmid"), Keyword: "minimum", Message: "must be between 100 and 999999999"},
			{Path: p("containers", "b", "hostname"), Keyword: "pattern", Message: "must be a DNS name: letters, digits and hyphens, labels separated by dots, no label starting or ending with \"-\""},
			{Path: p("containers", "b", "vmid"), Keyword: "maximum", Message: "must be between 100 and 999999999"},
			{Path: p("containers", "c", "hostname"), Keyword: "pattern", Message: "must be a DNS name: letters, digits and hyphens, labels separated by dots, no label starting or ending with \"-\""},
			{Path: p("containers", "c", "vmid"), Keyword: "type", Message: "must be an integer, not the string \"210\"; remove the quotes"},
		},
	},
	{
		name: "stack-container-resources",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a: {recipe: redis, resources: {memory: 8, cores: 9000, disk: -1, swap: 1.5, ram: 1}, memory: 512, ports: [80]}
`,
		want: []Violation{
			{Path: p("containers", "a", "memory"), Keyword: "additionalProperties", Message: "field \"memory\" is not allowed here; it belongs under \"resources\""},
			{Path: p("containers", "a", "ports"), Keyword: "additionalProperties", Message: "unknown field \"ports\""},
			{Path: p("containers", "a", "resources", "cores"), Keyword: "maximum", Message: "must be between 1 and 8192"},
			{Path: p("containers", "a", "resources", "disk"), Keyword: "exclusiveMinimum", Message: "must be greater than 0"},
			{Path: p("containers", "a", "resources", "memory"), Keyword: "minimum", Message: "must be at least 16"},
			{Path: p("containers", "a", "resources", "ram"), Keyword: "additionalProperties", Message: "unknown field \"ram\""},
			{Path: p("containers", "a", "resources", "swap"), Keyword: "type", Message: "must be an integer, not 1.5"},
		},
	},
	{
		name: "stack-network",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a:
    recipe: redis
    network: {ip: 10.0.0.1, gw: 300.1.1.1, ip6: "fd00::1", gw6: "fd00::/64", vlan: 0, mtu: 70000, mac: "01:24:11:00:00:01", bridge: "vm br0", rate: 0, firewall: "on"}
`,
		want: []Violation{
			{Path: p("containers", "a", "network", "bridge"), Keyword: "pattern", Message: "must be an interface name made of letters, digits, hyphens, underscores and dots"},
			{Path: p("containers", "a", "network", "firewall"), Keyword: "type", Message: "must be true or false, not the string \"on\""},
			{Path: p("containers", "a", "network", "gw"), Keyword: "pattern", Message: "must be an IPv4 address like 10.20.0.1"},
			{Path: p("containers", "a", "network", "gw6"), Keyword: "pattern", Message: "must be an IPv6 address like fd00::1"},
			{Path: p("containers", "a", "network", "ip"), Keyword: "pattern", Message: "must be dhcp, manual or an IPv4 address with a prefix length from 8 to 32, like 10.20.0.50/24"},
			{Path: p("containers", "a", "network", "ip6"), Keyword: "pattern", Message: "must be auto, dhcp, manual or an IPv6 address with a prefix length from 8 to 128, like fd00::50/64"},
			{Path: p("containers", "a", "network", "mac"), Keyword: "pattern", Message: "must be a unicast MAC address like BC:24:11:00:00:01"},
			{Path: p("containers", "a", "network", "mtu"), Keyword: "maximum", Message: "must be between 64 and 65535"},
			{Path: p("containers", "a", "network", "rate"), Keyword: "exclusiveMinimum", Message: "must be greater than 0"},
			{Path: p("containers", "a", "network", "vlan"), Keyword: "minimum", Message: "must be between 1 and 4094"},
		},
	},
	{
		name: "stack-network-values",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a: {recipe: redis, network: {ip: 10.0.0.1/7, mac: "BC:24:11:00:00", ip6: "fd00::1/129", mtu: 63}}
  b: {recipe: redis, network: {ip: 256.0.0.1/24, mac: "bc-24-11-00-00-01", ip6: "fd00:::1/64", vlan: 4095}}
`,
		want: []Violation{
			{Path: p("containers", "a", "network", "ip"), Keyword: "pattern", Message: "must be dhcp, manual or an IPv4 address with a prefix length from 8 to 32, like 10.20.0.50/24"},
			{Path: p("containers", "a", "network", "ip6"), Keyword: "pattern", Message: "must be auto, dhcp, manual or an IPv6 address with a prefix length from 8 to 128, like fd00::50/64"},
			{Path: p("containers", "a", "network", "mac"), Keyword: "pattern", Message: "must be a unicast MAC address like BC:24:11:00:00:01"},
			{Path: p("containers", "a", "network", "mtu"), Keyword: "minimum", Message: "must be between 64 and 65535"},
			{Path: p("containers", "b", "network", "ip"), Keyword: "pattern", Message: "must be dhcp, manual or an IPv4 address with a prefix length from 8 to 32, like 10.20.0.50/24"},
			{Path: p("containers", "b", "network", "ip6"), Keyword: "pattern", Message: "must be auto, dhcp, manual or an IPv6 address with a prefix length from 8 to 128, like fd00::50/64"},
			{Path: p("containers", "b", "network", "mac"), Keyword: "pattern", Message: "must be a unicast MAC address like BC:24:11:00:00:01"},
			{Path: p("containers", "b", "network", "vlan"), Keyword: "maximum", Message: "must be between 1 and 4094"},
		},
	},
	{
		name: "stack-extra-networks",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a:
    recipe: redis
    extra_networks: [{bridge: vmbr1}, {name: "eth 1", ip: dhcp, nam: x}]
`,
		want: []Violation{
			{Path: p("containers", "a", "extra_networks", "0"), Keyword: "required", Message: "missing required field \"name\""},
			{Path: p("containers", "a", "extra_networks", "1", "nam"), Keyword: "additionalProperties", Message: "unknown field \"nam\"; did you mean \"name\"?"},
			{Path: p("containers", "a", "extra_networks", "1", "name"), Keyword: "pattern", Message: "must be an interface name made of letters, digits, hyphens, underscores and dots"},
		},
	},
	{
		name: "stack-mounts",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a:
    recipe: redis
    mounts:
      - {host_path: /a}
      - {storage: local-lvm, path: /x}
      - {path: /x}
      - {host_path: /a, path: /b, size: 5}
      - {host_path: a, path: b}
      - {storage: local-lvm, size: 0, path: /x, shared: true}
      - /a:/b
`,
		want: []Violation{
			{Path: p("containers", "a", "mounts", "0"), Keyword: "required", Message: "missing required field \"path\""},
			{Path: p("containers", "a", "mounts", "1"), Keyword: "required", Message: "missing required field \"size\""},
			{Path: p("containers", "a", "mounts", "2"), Keyword: "oneOf", Message: "must be either a bind mount {host_path, path} or a volume mount {storage, size, path}"},
			{Path: p("containers", "a", "mounts", "3", "size"), Keyword: "additionalProperties", Message: "field \"size\" is not allowed in a bind mount"},
			{Path: p("containers", "a", "mounts", "4", "host_path"), Keyword: "pattern", Message: "must be an absolute path (starting with /)"},
			{Path: p("containers", "a", "mounts", "4", "path"), Keyword: "pattern", Message: "must be an absolute path (starting with /)"},
			{Path: p("containers", "a", "mounts", "5", "shared"), Keyword: "additionalProperties", Message: "field \"shared\" is not allowed in a volume mount"},
			{Path: p("containers", "a", "mounts", "5", "size"), Keyword: "exclusiveMinimum", Message: "must be greater than 0"},
			{Path: p("containers", "a", "mounts", "6"), Keyword: "oneOf", Message: "must be either a bind mount {host_path, path} or a volume mount {storage, size, path}"},
		},
	},
	{
		name: "stack-devices-startup-ha",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a:
    recipe: redis
    devices: [{path: /tmp/x, mode: "660", uid: -1}, {mode: "0660"}]
    startup: {order: -1, up: 1.5, delay: 3}
    ha: {state: running, max_restart: -1}
    onboot: "yes"
    protection: 1
`,
		want: []Violation{
			{Path: p("containers", "a", "devices", "0", "mode"), Keyword: "pattern", Message: "must be an octal access mode like \"0660\""},
			{Path: p("containers", "a", "devices", "0", "path"), Keyword: "pattern", Message: "must be a device path under /dev/"},
			{Path: p("containers", "a", "devices", "0", "uid"), Keyword: "minimum", Message: "must be at least 0"},
			{Path: p("containers", "a", "devices", "1"), Keyword: "required", Message: "missing required field \"path\""},
			{Path: p("containers", "a", "ha", "max_restart"), Keyword: "minimum", Message: "must be at least 0"},
			{Path: p("containers", "a", "ha", "state"), Keyword: "enum", Message: "must be one of started, stopped, disabled, ignored (got \"running\")"},
			{Path: p("containers", "a", "onboot"), Keyword: "type", Message: "must be true or false, not the string \"yes\""},
			{Path: p("containers", "a", "protection"), Keyword: "type", Message: "must be true or false, not a number"},
			{Path: p("containers", "a", "startup", "delay"), Keyword: "additionalProperties", Message: "unknown field \"delay\""},
			{Path: p("containers", "a", "startup", "order"), Keyword: "minimum", Message: "must be at least 0"},
			{Path: p("containers", "a", "startup", "up"), Keyword: "type", Message: "must be an integer, not 1.5"},
		},
	},
	{
		name: "stack-depends-on",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a: {recipe: redis, depends_on: db}
  b: {recipe: redis, depends_on: {db: {condition: ready}, Bad: {}, c: {conditon: healthy}}}
  c: {recipe: redis, depends_on: [db, "Bad"]}
  d: {recipe: redis, depends_on: {db: healthy}}
`,
		want: []Violation{
			{Path: p("containers", "a", "depends_on"), Keyword: "oneOf", Message: "must be either a list of container names or a map of name → {condition}"},
			{Path: p("containers", "b", "depends_on", "Bad"), Keyword: "propertyNames", Message: "invalid name \"Bad\": must be a container name: lowercase letters, digits and hyphens, starting with a letter or digit"},
			{Path: p("containers", "b", "depends_on", "c", "conditon"), Keyword: "additionalProperties", Message: "unknown field \"conditon\"; did you mean \"condition\"?"},
			{Path: p("containers", "b", "depends_on", "db", "condition"), Keyword: "enum", Message: "must be one of started, healthy (got \"ready\")"},
			{Path: p("containers", "c", "depends_on", "1"), Keyword: "pattern", Message: "must be a container name: lowercase letters, digits and hyphens, starting with a letter or digit"},
			{Path: p("containers", "d", "depends_on", "db"), Keyword: "type", Message: "must be a map, not a string"},
		},
	},
	{
		name: "stack-params",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a: {recipe: redis, params: {x: null, y: [1], z: {a: b}, Bad: 1, ok: "s"}}
  b: {recipe: redis, params: [x]}
`,
		want: []Violation{
			{Path: p("containers", "a", "params", "Bad"), Keyword: "propertyNames", Message: "invalid name \"Bad\": must be lowercase letters, digits and underscores, starting with a letter"},
			{Path: p("containers", "a", "params", "x"), Keyword: "anyOf", Message: "must be a string, a number or true/false"},
			{Path: p("containers", "a", "params", "y"), Keyword: "anyOf", Message: "must be a string, a number or true/false"},
			{Path: p("containers", "a", "params", "z"), Keyword: "anyOf", Message: "must be a string, a number or true/false"},
			{Path: p("containers", "b", "params"), Keyword: "type", Message: "must be a map, not a list"},
		},
	},
	{
		name: "stack-override-fields",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a: {recipe: redis, os: Debian, version: 12, arch: x64, gpu: intell, tags: [a, "-b"], unprivileged: 1, tun: "no", features: {nesting: "true"}, storage: "-x", template_storage: a}
`,
		want: []Violation{
			{Path: p("containers", "a", "arch"), Keyword: "enum", Message: "must be one of amd64, arm64, i386, armhf (got \"x64\")"},
			{Path: p("containers", "a", "features", "nesting"), Keyword: "type", Message: "must be true or false, not the string \"true\""},
			{Path: p("containers", "a", "gpu"), Keyword: "enum", Message: "must be one of none, auto, intel, amd, nvidia (got \"intell\")"},
			{Path: p("containers", "a", "os"), Keyword: "pattern", Message: "must be a lowercase distribution name like debian, ubuntu or alpine"},
			{Path: p("containers", "a", "storage"), Keyword: "pattern", Message: "must be a Proxmox storage ID: lowercase letters, digits and . _ -, starting with a letter and ending with a letter or digit"},
			{Path: p("containers", "a", "tags", "1"), Keyword: "pattern", Message: "must be a tag: lowercase letters, digits and _ + . -, not starting with +, . or -"},
			{Path: p("containers", "a", "template_storage"), Keyword: "pattern", Message: "must be a Proxmox storage ID: lowercase letters, digits and . _ -, starting with a letter and ending with a letter or digit"},
			{Path: p("containers", "a", "tun"), Keyword: "type", Message: "must be true or false, not the string \"no\""},
			{Path: p("containers", "a", "unprivileged"), Keyword: "type", Message: "must be true or false, not a number"},
			{Path: p("containers", "a", "version"), Keyword: "type", Message: "must be a string; quote it: \"12\""},
		},
	},
	{
		name: "stack-mount-ambiguous",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a:
    recipe: redis
    mounts:
      - {host_path: /a, storage: local-lvm, size: 5, path: /b}
      - {host_path: /a, storage: local-lvm, path: /b}
      - null
`,
		want: []Violation{
			{Path: p("containers", "a", "mounts", "0", "host_path"), Keyword: "additionalProperties", Message: "field \"host_path\" is not allowed in a volume mount"},
			{Path: p("containers", "a", "mounts", "1", "storage"), Keyword: "additionalProperties", Message: "field \"storage\" is not allowed in a bind mount"},
			{Path: p("containers", "a", "mounts", "2"), Keyword: "oneOf", Message: "must be either a bind mount {host_path, path} or a volume mount {storage, size, path}"},
		},
	},
	{
		name: "stack-limits",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
containers:
  a:
    recipe: redis
    depends_on: null
    description: "${LONG}"
    extra_networks: [{name: e1}, {name: e2}, {name: e3}, {name: e4}, {name: e5}, {name: e6}, {name: e7}, {name: e8}, {name: e9}, {name: e10}, {name: e11}, {name: e12}, {name: e13}, {name: e14}, {name: e15}, {name: e16}, {name: e17}, {name: e18}, {name: e19}, {name: e20}, {name: e21}, {name: e22}, {name: e23}, {name: e24}, {name: e25}, {name: e26}, {name: e27}, {name: e28}, {name: e29}, {name: e30}, {name: e31}, {name: e32}]
`,
		want: []Violation{
			{Path: p("containers", "a", "depends_on"), Keyword: "oneOf", Message: "must be either a list of container names or a map of name → {condition}"},
			{Path: p("containers", "a", "extra_networks"), Keyword: "maxItems", Message: "must have at most 31 items (found 32)"},
		},
	},
	{
		name: "recipe-update-typos",
		kind: Recipe,
		src: `apiVersion: lxcplan/v1
kind: Recipe
name: r
version: 1.0.0
container: {os: debian, version: "12"}
update:
  - apt_upgarde: []
  - run: "true"
    service: {name: x}
os: debian
`,
		want: []Violation{
			{Path: p("os"), Keyword: "additionalProperties", Message: "field \"os\" is not allowed here; it belongs under \"container\""},
			{Path: p("update", "0", "apt_upgarde"), Keyword: "additionalProperties", Message: "unknown field \"apt_upgarde\"; did you mean \"apt_upgrade\"?"},
			{Path: p("update", "1"), Keyword: "maxProperties", Message: "must have exactly one key naming its kind, found 2: run, service"},
		},
	},
	{
		name: "stack-misplaced-fields",
		kind: Stack,
		src: `apiVersion: lxcplan/v1
kind: Stack
name: s
description: my stack
storage: local-lvm
containers:
  a: {recipe: redis, ip: dhcp, nesting: true, hostname: "a.b", hostnmae: x}
`,
		want: []Violation{
			{Path: p("containers", "a", "hostnmae"), Keyword: "additionalProperties", Message: "unknown field \"hostnmae\"; did you mean \"hostname\"?"},
			{Path: p("containers", "a", "ip"), Keyword: "additionalProperties", Message: "field \"ip\" is not allowed here; it belongs under \"network\""},
			{Path: p("containers", "a", "nesting"), Keyword: "additionalProperties", Message: "field \"nesting\" is not allowed here; it belongs under \"features\""},
			{Path: p("description"), Keyword: "additionalProperties", Message: "unknown field \"description\""},
			{Path: p("storage"), Keyword: "additionalProperties", Message: "field \"storage\" is not allowed here; it belongs under \"defaults\""},
		},
	},
}
