function __kctl_complete
    set -lx COMP_WORDS (commandline -cp)
    set -lx COMP_CWORD (commandline -ct)
    env _KCTL_COMPLETE=fish kctl 2>/dev/null
end

complete -c kctl -f -a "(__kctl_complete)"
