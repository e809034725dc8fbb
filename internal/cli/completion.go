package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func newCompletionCmd(stdio Stdio) *ffcli.Command {
	return newLeaf(leaf{
		Command: ffcli.Command{
			Name:       "completion",
			ShortUsage: "mapsdevice completion bash|zsh|fish|powershell",
			ShortHelp:  "print a shell completion script",
			LongHelp: strings.TrimSpace(`
Print a script that completes mapsdevice's commands, flags and flag values
(credential kinds, token stores, sinks, geographies, stored profiles) in a
shell. The script asks mapsdevice itself what fits, so it stays right
across upgrades. The .deb and .rpm packages install it for you.

bash:
  source <(mapsdevice completion bash)
  (or save it as ~/.local/share/bash-completion/completions/mapsdevice)
zsh:
  mapsdevice completion zsh > "${fpath[1]}/_mapsdevice"
fish:
  mapsdevice completion fish > ~/.config/fish/completions/mapsdevice.fish
PowerShell:
  mapsdevice completion powershell | Out-String | Invoke-Expression`),
		},
		nargs: 1, takes: "one shell: bash, zsh, fish or powershell",
		run: func(_ context.Context, args []string) error {
			script, ok := completionScripts()[args[0]]
			if !ok {
				return usageError{fmt.Errorf("no completion for %q: use bash, zsh, fish or powershell", args[0])}
			}
			_, err := fmt.Fprint(stdio.Out, script)
			return err
		},
	})
}

func completionShells() []string { return []string{"bash", "zsh", "fish", "powershell"} }

// completionScripts are the scripts each shell sources. Each asks
// 'mapsdevice __complete' (complete.go) and hands its answer to the
// shell's own machinery.
func completionScripts() map[string]string {
	return map[string]string{
		"bash":       bashCompletion,
		"zsh":        zshCompletion,
		"fish":       fishCompletion,
		"powershell": powershellCompletion,
	}
}

// bash splits words at '=' (COMP_WORDBREAKS); the line is split here on
// blanks instead, and a "--flag=" prefix taken off the answers again.
const bashCompletion = `# bash completion for mapsdevice
_mapsdevice() {
    local line=${COMP_LINE:0:COMP_POINT} words cur out directive
    read -r -a words <<< "$line"
    if [[ $line == *[[:blank:]] ]]; then
        words+=("")
    fi
    cur=${words[${#words[@]}-1]}
    out=$("${words[0]}" __complete "${words[@]:1}" 2>/dev/null) || return
    directive=${out##*$'\n'}
    if [[ $out == *$'\n'* ]]; then out=${out%$'\n'*}; else out=; fi
    COMPREPLY=()
    local c
    while IFS= read -r c; do
        [[ -z $c ]] && continue
        c=${c%%$'\t'*}
        if [[ $cur == --*=* && $COMP_WORDBREAKS == *=* ]]; then
            c=${c#*=}
        fi
        COMPREPLY+=("$c")
    done <<< "$out"
    if [[ ${#COMPREPLY[@]} -eq 0 && $directive == :files ]]; then
        compopt -o default 2>/dev/null
    elif [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -F _mapsdevice mapsdevice
`

const zshCompletion = `#compdef mapsdevice
# zsh completion for mapsdevice
_mapsdevice() {
    local out directive line
    local -a lines cands
    out=$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
    lines=("${(@f)out}")
    directive=${lines[-1]}
    lines=("${(@)lines[1,-2]}")
    for line in "${lines[@]}"; do
        [[ -z $line ]] && continue
        if [[ $line == *$'\t'* ]]; then
            cands+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
        else
            cands+=("${line//:/\\:}")
        fi
    done
    if (( ${#cands} )); then
        _describe -t values 'mapsdevice' cands
    elif [[ $directive == :files ]]; then
        _files
    fi
}
if [[ $funcstack[1] == _mapsdevice ]]; then
    _mapsdevice "$@"
else
    compdef _mapsdevice mapsdevice
fi
`

const fishCompletion = `# fish completion for mapsdevice
function __mapsdevice_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l out (command $words[1] __complete $words[2..-1] 2>/dev/null)
    or return
    set -l directive $out[-1]
    set -e out[-1]
    if test (count $out) -gt 0
        printf '%s\n' $out
    else if test "$directive" = :files
        __fish_complete_path (commandline -ct)
    end
end
complete -c mapsdevice -f -a '(__mapsdevice_complete)'
`

// PowerShell before 7.3 drops empty arguments to native commands, so an
// empty word to complete is passed as '""'.
const powershellCompletion = `# PowerShell completion for mapsdevice
Register-ArgumentCompleter -Native -CommandName mapsdevice -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Where-Object { $_.Extent.StartOffset -lt $cursorPosition } | ForEach-Object { $_.ToString() })
    if ($wordToComplete -eq '') { $words += '""' }
    $program = $words[0]
    $rest = @()
    if ($words.Count -gt 1) { $rest = $words[1..($words.Count - 1)] }
    $out = @(& $program __complete @rest 2>$null)
    if ($out.Count -eq 0) { return }
    $directive = $out[-1]
    $lines = @()
    if ($out.Count -gt 1) { $lines = $out[0..($out.Count - 2)] }
    foreach ($line in $lines) {
        if ($line -eq '') { continue }
        $parts = $line -split "` + "`t" + `", 2
        $tip = if ($parts.Count -gt 1) { $parts[1] } else { $parts[0] }
        [System.Management.Automation.CompletionResult]::new($parts[0], $parts[0], 'ParameterValue', $tip)
    }
    if ($lines.Count -eq 0 -and $directive -eq ':none') {
        # No file names here: an empty result would make PowerShell offer them.
        ''
    }
}
`
