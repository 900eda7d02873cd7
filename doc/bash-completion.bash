# bash completion for dmarcstat(1): commands, their options, and the values of --format,
# --table and the quarantine actions; files and folders elsewhere (and after --sendmail).  Installed as
# share/bash-completion/completions/dmarcstat; needs nothing from the bash-completion package.
_dmarcstat()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd=${COMP_WORDS[1]} opts

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W 'parse ingest quarantine report explain alerts enrich check --help --version' -- "$cur"))
		return
	fi
	case $prev in
	--format)
		if [ "$cmd" = check ] || [ "$cmd" = alerts ]; then
			COMPREPLY=($(compgen -W 'text json' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'text csv json html' -- "$cur"))
		fi
		return
		;;
	--table)
		COMPREPLY=($(compgen -W 'overview isps sources source_isps new_sources silent_isps domains daily
		                          services dns_checks' -- "$cur"))
		return
		;;
	--by)
		COMPREPLY=($(compgen -W 'domain service' -- "$cur"))
		return
		;;
	--lang) COMPREPLY=($(compgen -W 'en ja' -- "$cur")); return ;;
	--last | --ttl | --since) COMPREPLY=($(compgen -W '1d 7d 30d 90d' -- "$cur")); return ;;
	--sendmail) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--db | -o | --move-to | --failed-to | --mmdb | --password-file | --oauth2-token-file | --cacert)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--from | --to | --ip | --domain | --reporter | --resolver | --timeout | --budget | \
		--concurrency | --limit | --mail-to | --mail-from | --subject | --threshold | \
		--min-messages) return ;;
	esac
	case $cmd in
	parse) opts='--help' ;;
	ingest)
		opts='--db --json --quiet --move-to --failed-to --limit --enrich --resolver --mmdb
		      --timeout --password-file --netrc --oauth2-token-file --cacert --insecure-plaintext
		      --help'
		;;
	quarantine) opts='list show retry resolve --db --all --json --raw --keep-new --keep-stored --help' ;;
	report)
		opts='--db --last --from --to --all --domain --reporter --by --by-domain --top --check-dns
		      --resolver --timeout --mmdb --format --table --lang -o --mail-to --mail-from --subject
		      --sendmail --help'
		;;
	alerts)
		opts='--db --since --from --to --domain --threshold --min-messages --format --lang --mail-to
		      --mail-from --subject --sendmail --help'
		;;
	explain)
		opts='--db --ip --reporter --domain --last --from --to --all --top --letter --check-dns
		      --resolver --timeout --mmdb --lang -o --help'
		;;
	enrich)
		opts='--db --resolver --mmdb --ttl --all --budget --concurrency --timeout --json --quiet --help'
		;;
	check) opts='--db --last --from --to --format --resolver --timeout --help' ;;
	*) return ;;
	esac
	if [[ $cur == -* || $cmd == quarantine || $cmd == enrich ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o filenames -F _dmarcstat dmarcstat
