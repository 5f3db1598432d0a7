/**
 * TAP/TUN devices: getting a queue ({@code TapHandle}), validating and using it ({@code Tap}).
 */
package dev.nettap;
