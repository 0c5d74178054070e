package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// subcommands are what may come first on the command line.
var subcommands = []string{"run", "render", "check", "version", "help", "completion"}

// runCompletion is `discovery completion bash|zsh`: a completion script for
// the subcommands and every flag, generated from the flags themselves so it
// cannot fall behind them.
func runCompletion(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
		fmt.Fprintln(stderr, "usage: discovery completion bash|zsh")
		return 2
	}
	flags := completionFlags()
	switch args[0] {
	case "bash":
		fmt.Fprintf(stdout, bashCompletion, strings.Join(subcommands, " "), strings.Join(flags, " "))
	case "zsh":
		fmt.Fprintf(stdout, zshCompletion, strings.Join(subcommands, " "), strings.Join(flags, " "))
	}
	return 0
}

// completionFlags are every flag of a run and check's -offline, as "-name".
func completionFlags() []string {
	fs, _, _ := runFlags(&options{})
	out := []string{"-offline"}
	fs.VisitAll(func(f *flag.Flag) { out = append(out, "-"+f.Name) })
	sort.Strings(out)
	return out
}

const bashCompletion = `# bash completion for discovery: source this file, or install it as
# /etc/bash_completion.d/discovery.
_discovery() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local commands="%s"
  local flags="%s"
  case $prev in
    -config|-stateFile|-caCertFile|-certFile|-keyFile|-IAMConfigFile|-haproxy-config|--haproxy-config|-marathon-ca-cert|--marathon-ca-cert|-marathon-auth-credential-file|--marathon-auth-credential-file|-lb-haproxy-binary|-ssl-certs|--ssl-certs)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -lb-templates-dir|-lb-archive-dir|-dev-dir)
      COMPREPLY=($(compgen -d -- "$cur")); return ;;
    completion)
      COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
    help)
      COMPREPLY=($(compgen -W "render check" -- "$cur")); return ;;
  esac
  if [[ $COMP_CWORD -eq 1 && $cur != -* ]]; then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    return
  fi
  # marathon-lb's --flag spelling completes too.
  if [[ $cur == --* ]]; then
    COMPREPLY=($(compgen -W "$(printf -- '-%%s ' $flags)" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  fi
}
complete -o default -F _discovery discovery
`

const zshCompletion = `#compdef discovery
# zsh completion for discovery: install it as _discovery in a directory of $fpath.
_discovery() {
  local -a commands flags
  commands=(%s)
  flags=(%s)
  if (( CURRENT == 2 )) && [[ $words[CURRENT] != -* ]]; then
    compadd -a commands
    return
  fi
  case $words[CURRENT-1] in
    completion) compadd bash zsh; return ;;
    help) compadd render check; return ;;
    -config|-stateFile|-caCertFile|-certFile|-keyFile|-IAMConfigFile|-haproxy-config|-lb-haproxy-binary|-ssl-certs) _files; return ;;
    -lb-templates-dir|-lb-archive-dir|-dev-dir) _files -/; return ;;
  esac
  if [[ $words[CURRENT] == -* ]]; then
    compadd -a flags
  else
    _files
  fi
}
_discovery "$@"
`
