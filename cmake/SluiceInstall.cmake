# `cmake --install build [--prefix P]` and `cpack` (a .deb): the binary, the
# shipped Lua library where the binary looks for it (<prefix>/share/sluice/lua,
# runtime/engine/lua_dir.c), the systemd unit naming the installed binary, and
# the operator's files (the environment example, Grafana, Prometheus).
include(GNUInstallDirs)

install(TARGETS sluice RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY lua/ DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice/lua
        FILES_MATCHING PATTERN "*.lua" PATTERN "*.json")

# The unit in ops/ names /usr/local/bin/sluice (for a copy by hand); the
# installed one names the binary where the prefix of this install puts it,
# known only when it runs (cmake --install --prefix, cpack's /usr).  Debian
# 12 has /lib in /usr, so <prefix>/lib/systemd/system is where systemd reads
# packaged units from when the prefix is /usr.
install(CODE "
  file(READ \"${CMAKE_SOURCE_DIR}/ops/systemd/sluice@.service\" unit)
  string(REPLACE \"/usr/local/bin/sluice\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/sluice\"
         unit \"\${unit}\")
  set(dest \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/sluice@.service\")
  message(STATUS \"Installing: \${dest}\")
  file(WRITE \"\${dest}\" \"\${unit}\")
")
install(FILES ops/systemd/sluice-env.example DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice/systemd)
install(DIRECTORY ops/grafana ops/prometheus DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice
        PATTERN "*.py" EXCLUDE)
install(FILES pipelines/catalog.lua DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice/examples)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} PATTERN internals EXCLUDE)

# The .deb (scripts/package: cpack in build/, prefix /usr):
# sluice_<version>_<arch>.deb, its library dependencies found by
# dpkg-shlibdeps; its postinst makes the service account and /etc/sluice.
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VENDOR "sluice")
set(CPACK_PACKAGE_CONTACT "sluice developers <sluice@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "data pipelines in Lua on libuv: Kafka, PostgreSQL, cleansing, record matching, data-quality scoring")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/ops/debian/postinst)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/sluice/sluice")
include(CPack)
