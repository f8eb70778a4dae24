// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Private to config.cpp: the checks applied to an already parsed document. Kept apart from the
// entry points so that the rules for what a valid configuration is live in one place.
#pragma once

#include <QtCore/QString>

namespace berth {

class ServiceRegistry;
struct ConfigResult;
struct PositionedJson;

/// Checks \a doc against the configuration rules and the schemas of \a types, filling
/// \a result's config and appending one error per problem (in the order found, not sorted).
/// \a fileName is used in error messages only.
void validateConfig(const PositionedJson &doc, const QString &fileName, const ServiceRegistry &types,
                    ConfigResult *result);

} // namespace berth
