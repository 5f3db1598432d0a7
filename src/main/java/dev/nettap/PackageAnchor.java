package dev.nettap;

/**
 * Keeps the package {@code dev.nettap} non-empty so that {@code exports dev.nettap} compiles before
 * the device classes exist on this branch. Package-private, not part of the API; delete it once any
 * other class lives in this package.
 */
final class PackageAnchor {
    private PackageAnchor() {
    }
}
