"""The segment language: YAML files parsed, validated and compiled to SQL; one audience each."""
