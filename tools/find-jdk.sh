# Sourced by ./mvnw and the project's scripts: make JAVA_HOME point at a JDK 22 or newer.
# Keeps a JAVA_HOME that already is one; otherwise looks at `java` on the PATH, then at the usual
# install folders; otherwise stops with one line saying how to point at one.
nettap_jdk_version() { # prints the feature version of the JDK at $1, or nothing
  [ -x "$1/bin/javac" ] || return 0
  if [ -f "$1/release" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release" | head -n 1
  fi
}
nettap_find_jdk() {
  set +f # callers such as mvnw run with globbing off; this runs in a subshell
  for nettap_c in "${JAVA_HOME-}" \
      "$(dirname "$(dirname "$(readlink -f "$(command -v javac 2>/dev/null || echo /nonexistent)")")")" \
      /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
    [ -n "$nettap_c" ] && [ -d "$nettap_c" ] || continue
    nettap_v=$(nettap_jdk_version "$nettap_c")
    if [ -n "$nettap_v" ] && [ "$nettap_v" -ge 22 ]; then
      printf '%s\n' "$nettap_c"
      return 0
    fi
  done
  return 1
}
if nettap_home=$(nettap_find_jdk); then
  JAVA_HOME=$nettap_home
  export JAVA_HOME
else
  echo "nettap needs a JDK 22 or newer and found none (JAVA_HOME='${JAVA_HOME-}', /usr/lib/jvm): set JAVA_HOME to a JDK 22+ install." >&2
  exit 1
fi
unset nettap_home nettap_c nettap_v
