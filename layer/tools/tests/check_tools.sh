#!/bin/bash
# check_tools.sh ENDPOINT BUCKET [HTTPS_ENDPOINT]: exercises every tool of the tools layer (and jq
# of the runtime layer) from /opt, with Lambda's PATH. Run by test-tools.sh inside a namespace or
# chroot where the machine's own python3, aws, jq and git are hidden. ENDPOINT is an
# internal/s3test server that accepts only AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
# AWS_SESSION_TOKEN from the environment; HTTPS_ENDPOINT the same over TLS with a certificate of
# the CA at /etc/pki/tls/certs/ca-bundle.crt. Prints "ok - " / "not ok - " lines.
set -uo pipefail
endpoint="$1" bucket="$2" https="${3:-}"
export PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin HOME=/tmp
work="$(mktemp -d)"
cd "$work" || exit 1

t() { # t NAME WANT GOT
	if [[ "$3" == "$2" ]]; then echo "ok - $1"; else printf 'not ok - %s: got %q, want %q\n' "$1" "$3" "$2"; fi
}
has() { # has NAME PATTERN GOT
	if [[ "$3" == *$2* ]]; then echo "ok - $1"; else printf 'not ok - %s: %q lacks %q\n' "$1" "$3" "$2"; fi
}

# jq, aws and git are not in provided.al2023 (nor here): Lambda's PATH finds the layers'. The system's
# own tar, gzip, ssh, zip or unzip, where there is one, comes first on that PATH (/opt/bin is last):
# the layer's are run by their full path below.
for c in jq aws git; do
	t "$c is the layer's, on Lambda's PATH" "/opt/bin/$c" "$(command -v "$c")"
done
t "jq on an event" "Ada" "$(jq -r .name <<<'{"name":"Ada","x":[1]}')"
t "jq keeps key order (jq 1.6, not gojq)" '{"b":1,"a":{"d":2,"c":3}}' "$(jq -c . <<<'{"b":1,"a":{"d":2,"c":3}}')"
t "jq @sh" "'it'\\''s' 'x'" "$(jq -r '@sh "\(.a) \(.b)"' <<<'{"a":"it'\''s","b":"x"}')"
has "aws --version" "aws-cli/1.19.1 Python/3.9.2" "$(aws --version 2>&1)"

a() { aws --endpoint-url "$endpoint" "$@" 2>&1; }
has "aws s3 ls (ListBuckets)" "$bucket" "$(a s3 ls)"
printf 'hello from the tools layer\n' >up.txt
has "aws s3 cp to S3 (PutObject)" "upload: ./up.txt to s3://$bucket/dir/up.txt" "$(a s3 cp up.txt "s3://$bucket/dir/up.txt")"
has "aws s3 ls s3://bucket/dir/ (ListObjectsV2)" "up.txt" "$(a s3 ls "s3://$bucket/dir/")"
t "aws s3 cp from S3 (HeadObject, GetObject)" "hello from the tools layer" "$(a s3 cp "s3://$bucket/dir/up.txt" -)"
t "aws s3api list-objects-v2" "dir/up.txt" "$(a s3api list-objects-v2 --bucket "$bucket" --query 'Contents[].Key' --output text)"
has "a wrong secret key is refused" "SignatureDoesNotMatch" "$(AWS_SECRET_ACCESS_KEY=wrong a s3 ls)"
has "no session token is refused" "AccessDenied" "$(env -u AWS_SESSION_TOKEN aws --endpoint-url "$endpoint" s3 ls 2>&1)"
if [[ -n "$https" ]]; then
	if [[ -e /etc/ssl/certs/ca-certificates.crt ]]; then
		echo "not ok - aws over HTTPS: /etc/ssl/certs/ca-certificates.crt exists here, so this is no stand-in for Amazon Linux"
	else
		has "aws over HTTPS finds /etc/pki/tls/certs/ca-bundle.crt" "$bucket" "$(aws --endpoint-url "$https" s3 ls 2>&1)"
		has "aws over HTTPS refuses an unknown CA" "CERTIFICATE_VERIFY_FAILED" "$(AWS_CA_BUNDLE=/opt/lib/python3/dist-packages/botocore/cacert.pem aws --endpoint-url "$https" s3 ls 2>&1)"
	fi
fi

g() { git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main "$@" 2>&1; }
g init -q src >/dev/null && printf 'one\n' >src/f && g -C src add f >/dev/null && g -C src commit -qm one >/dev/null
g clone -q "file://$work/src" dst >/dev/null
t "git clone file://" "one" "$(cat dst/f 2>&1)"
t "git log in the clone" "one" "$(g -C dst log --format=%s)"
has "git finds git-remote-https (libcurl bundled)" "unable to access" "$(g ls-remote https://127.0.0.1:9/none.git)"
has "ssh -V" "OpenSSH_8.4p1" "$(/opt/bin/ssh -V 2>&1)"
/opt/bin/ssh-keygen -q -t ed25519 -N '' -f "$work/key" >/dev/null 2>&1
has "ssh-keygen" "ssh-ed25519 " "$(cat "$work/key.pub" 2>&1)"

mkdir -p tree/sub && printf 'x%.0s' {1..1000} >tree/sub/a && printf 'b\n' >tree/b
/opt/bin/zip -q -r t.zip tree && /opt/bin/unzip -q -d unz t.zip
t "zip and unzip" "" "$(diff -r tree unz/tree 2>&1)"
PATH=/opt/bin:$PATH /opt/bin/tar -czf t.tgz tree && mkdir untar && PATH=/opt/bin:$PATH /opt/bin/tar -xzf t.tgz -C untar
t "tar -z (with the layer's gzip)" "" "$(diff -r tree untar/tree 2>&1)"
/opt/bin/gzip -k tree/b && t "gzip -d" "b" "$(/opt/bin/gzip -dc tree/b.gz)"
rm -rf "$work"
