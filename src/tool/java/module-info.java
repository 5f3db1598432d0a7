/**
 * The nettap command-line tool ({@code nettap demo}, {@code nettap forward}): its own module and
 * jar, so that the library module {@code dev.nettap} carries no CLI, no demo and no
 * {@code ProcessBuilder}. It uses only the library's exported API and makes no restricted call
 * itself: launchers grant native access to {@code dev.nettap} alone.
 */
module dev.nettap.tool {
    requires dev.nettap;
}
